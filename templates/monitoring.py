"""Alerting: a KMS key, the SNS topic encrypted with it, PagerDuty's subscription, the alarms.

Every alarm publishes on ALARM and on OK, so the PagerDuty incident opens and resolves by itself.
The load balancer's alarms double as the ECS deployment alarms (see ecs_service.py): a
deployment that makes them fire is rolled back.

The PagerDuty subscription is given inline on the topic. AWS creates it either way; moto (our
local AWS) creates inline subscriptions but skips `AWS::SNS::Subscription` resources.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import awacs.kms as akms
from awacs.aws import (
    Allow,
    ArnLike,
    ArnLikeIfExists,
    Condition,
    PolicyDocument,
    Principal,
    Statement,
    StringEquals,
    StringEqualsIfExists,
)
from troposphere import (
    AccountId,
    Join,
    Parameter,
    Partition,
    Region,
    Select,
    Split,
    Template,
    cloudwatch,
    ecs,
    kms,
    sns,
)
from troposphere import elasticloadbalancingv2 as elbv2

from environments.model import AlarmThresholds
from templates.declared import accepts, declare, grants
from templates.imported import ALERT_TOPIC, ALERTING_KEY, Imported

PERIOD_SECONDS = 60
ALB = "AWS/ApplicationELB"
CONTAINER_INSIGHTS = "ECS/ContainerInsights"
# 4xx (the tasks' and the load balancer's own) per 100 requests; 0 when there is no traffic.
CLIENT_4XX_PERCENT = "IF(requests > 0, 100 * (FILL(target4xx, 0) + FILL(elb4xx, 0)) / requests, 0)"
CLIENT_4XX_LABEL = "4xx percent of requests"

# What the account root may do to the key: administer it, never read data through this grant.
KEY_ADMIN_ACTIONS = [
    akms.CreateAlias,
    akms.DeleteAlias,
    akms.DescribeKey,
    akms.EnableKeyRotation,
    akms.GetKeyPolicy,
    akms.GetKeyRotationStatus,
    akms.ListAliases,
    akms.ListResourceTags,
    akms.PutKeyPolicy,
    akms.ScheduleKeyDeletion,
    akms.CancelKeyDeletion,
    akms.TagResource,
    akms.UntagResource,
    akms.UpdateAlias,
    akms.UpdateKeyDescription,
    akms.EnableKey,
    akms.DisableKey,
]


KEY_ADMIN_RISK = accepts(
    "The key policy grants the account root (so IAM policies) the key's administration",
    "Without it nobody could ever change or schedule the deletion of the key; it grants "
    "no use of the key (no Encrypt or Decrypt), and no service outside this account.",
)


@dataclass(frozen=True)
class Alerting:
    key: kms.Key | Imported  # Imported: the environment stack's, in a service stack
    topic: sns.Topic | Imported


@dataclass(frozen=True)
class DeploymentAlarms:
    """The load balancer's alarms: a deployment that makes one fire is rolled back."""

    alarms: tuple[cloudwatch.Alarm, ...]


def _service_principal(name: str) -> Principal:
    return Principal("Service", name)


def _key_policy() -> PolicyDocument:
    # A key policy governs one key, the key itself: "*" as Resource means "this key" here.
    return PolicyDocument(
        Version="2012-10-17",
        Statement=[
            Statement(
                Sid="AccountAdministersTheKey",
                Effect=Allow,
                Principal=Principal(
                    "AWS", Join("", ["arn:", Partition, ":iam::", AccountId, ":root"])
                ),
                Action=KEY_ADMIN_ACTIONS,
                Resource=["*"],
            ),
            Statement(
                Sid="CloudWatchPublishesToTheEncryptedTopic",
                Effect=Allow,
                Principal=_service_principal("cloudwatch.amazonaws.com"),
                Action=[akms.Decrypt, akms.GenerateDataKey],
                Resource=["*"],
                # Only for this account's alarms (confused deputy: docs, SNS "Enable
                # compatibility between event sources from AWS services and encrypted topics").
                Condition=Condition(
                    [
                        StringEquals("aws:SourceAccount", AccountId),
                        ArnLike("aws:SourceArn", _arn("cloudwatch", "alarm:*")),
                    ]
                ),
            ),
            Statement(
                Sid="CloudWatchLogsEncryptsThisAccountsLogGroups",
                Effect=Allow,
                Principal=_service_principal(Join("", ["logs.", Region, ".amazonaws.com"])),
                Action=[
                    akms.Encrypt,
                    akms.Decrypt,
                    akms.ReEncryptFrom,
                    akms.ReEncryptTo,
                    akms.GenerateDataKey,
                    akms.DescribeKey,
                ],
                Resource=["*"],
                # The encryption context, which CloudWatch Logs always sets to the log group's
                # ARN, is what AWS documents (encrypt-log-data-kms.html) and binds the key to
                # this account's log groups. The source keys are checked whenever the call
                # carries them: AWS documents no key policy of CloudWatch Logs that requires
                # them, and one that did would stop the logs if they are absent.
                Condition=Condition(
                    [
                        ArnLike("kms:EncryptionContext:aws:logs:arn", _arn("logs", "log-group:*")),
                        StringEqualsIfExists("aws:SourceAccount", AccountId),
                        ArnLikeIfExists("aws:SourceArn", _arn("logs", "log-group:*")),
                    ]
                ),
            ),
        ],
    )


def _arn(service: str, resource: str) -> Join:
    """An ARN of this account and region."""
    return Join("", ["arn:", Partition, f":{service}:", Region, ":", AccountId, f":{resource}"])


def add_alerting(template: Template, pagerduty_url: Parameter) -> Alerting:
    key = template.add_resource(
        kms.Key(
            ALERTING_KEY,
            # Kept with the log group it encrypts (logs.py): without it, those logs are unreadable.
            DeletionPolicy="Retain",
            UpdateReplacePolicy="Retain",
            Description="Encrypts the alert topic and the service's logs",
            EnableKeyRotation=True,
            KeyPolicy=_key_policy(),
        )
    )
    declare(
        key,
        KEY_ADMIN_RISK,
        grants(
            Join("", ["arn:", Partition, ":iam::", AccountId, ":root"]),
            "this account administers the key (no data access through this grant)",
            KEY_ADMIN_ACTIONS,
        ),
        grants("cloudwatch.amazonaws.com", "alarms publish to the encrypted alert topic"),
        grants(
            Join("", ["logs.", Region, ".amazonaws.com"]),
            "CloudWatch Logs encrypts this account's log groups with the key",
        ),
    )
    topic = template.add_resource(
        sns.Topic(
            ALERT_TOPIC,
            KmsMasterKeyId=key.ref(),
            Subscription=[sns.Subscription(Protocol="https", Endpoint=pagerduty_url.ref())],
        )
    )
    return Alerting(key=key, topic=topic)


class _Alarms:
    """Adds alarms that all publish to the alert topic on ALARM and on OK."""

    def __init__(self, template: Template, alerting: Alerting, periods: int) -> None:
        self.template, self.topic, self.periods = template, alerting.topic, periods

    def add(
        self,
        title: str,
        description: str,
        threshold: float,
        *,
        comparison: str = "GreaterThanThreshold",
        **metric: Any,
    ) -> cloudwatch.Alarm:
        return self.template.add_resource(
            cloudwatch.Alarm(
                title,
                AlarmDescription=description,
                Threshold=threshold,
                ComparisonOperator=comparison,
                EvaluationPeriods=self.periods,
                DatapointsToAlarm=self.periods,
                TreatMissingData="notBreaching",
                AlarmActions=[self.topic.ref()],
                OKActions=[self.topic.ref()],
                **metric,
            )
        )


@dataclass(frozen=True)
class Metric:
    """A CloudWatch metric as the alarms watch it: namespace, name and dimensions (whose
    values are Refs and GetAtts). The dashboard (dashboard.py) draws the same objects."""

    namespace: str
    name: str
    dimensions: tuple[tuple[str, object], ...]

    def cloudwatch_dimensions(self) -> list[cloudwatch.MetricDimension]:
        return [
            cloudwatch.MetricDimension(Name=name, Value=value) for name, value in self.dimensions
        ]

    def alarm_properties(self, **stat: str) -> dict[str, Any]:
        """The properties of a single-metric alarm (stat: Statistic= or ExtendedStatistic=)."""
        return {
            "Namespace": self.namespace,
            "MetricName": self.name,
            "Dimensions": self.cloudwatch_dimensions(),
            "Period": PERIOD_SECONDS,
            **stat,
        }

    def query(self, id_: str, stat: str) -> cloudwatch.MetricDataQuery:
        return cloudwatch.MetricDataQuery(
            Id=id_,
            ReturnData=False,
            MetricStat=cloudwatch.MetricStat(
                Metric=cloudwatch.Metric(
                    Namespace=self.namespace,
                    MetricName=self.name,
                    Dimensions=self.cloudwatch_dimensions(),
                ),
                Period=PERIOD_SECONDS,
                Stat=stat,
            ),
        )


@dataclass(frozen=True)
class LoadBalancerMetrics:
    """The load balancer's metrics (AWS/ApplicationELB): its own, and its target group's."""

    requests: Metric
    elb_5xx: Metric
    target_5xx: Metric
    elb_4xx: Metric
    target_4xx: Metric
    response_time: Metric
    unhealthy_hosts: Metric
    healthy_hosts: Metric


@dataclass(frozen=True)
class ServiceMetrics:
    """The ECS service's Container Insights metrics (the cluster turns them on)."""

    running_tasks: Metric
    desired_tasks: Metric
    cpu_utilized: Metric
    cpu_reserved: Metric
    memory_utilized: Metric
    memory_reserved: Metric


def load_balancer_metrics(
    load_balancer: elbv2.LoadBalancer | Imported, target_group: elbv2.TargetGroup
) -> LoadBalancerMetrics:
    lb = (("LoadBalancer", load_balancer.get_att("LoadBalancerFullName")),)
    # TargetGroupFullName is the ARN's last part (targetgroup/<name>/<id>): read off the Ref,
    # because the emulator resolves no GetAtt TargetGroupFullName where the dashboard needs it.
    target_group_full_name = Select(5, Split(":", target_group.ref()))
    lb_tg = (*lb, ("TargetGroup", target_group_full_name))
    return LoadBalancerMetrics(
        requests=Metric(ALB, "RequestCount", lb),
        elb_5xx=Metric(ALB, "HTTPCode_ELB_5XX_Count", lb),
        target_5xx=Metric(ALB, "HTTPCode_Target_5XX_Count", lb_tg),
        elb_4xx=Metric(ALB, "HTTPCode_ELB_4XX_Count", lb),
        target_4xx=Metric(ALB, "HTTPCode_Target_4XX_Count", lb),
        response_time=Metric(ALB, "TargetResponseTime", lb_tg),
        unhealthy_hosts=Metric(ALB, "UnHealthyHostCount", lb_tg),
        healthy_hosts=Metric(ALB, "HealthyHostCount", lb_tg),
    )


def service_metrics(cluster: ecs.Cluster | Imported, service: ecs.Service) -> ServiceMetrics:
    dims = (("ClusterName", cluster.ref()), ("ServiceName", service.get_att("Name")))
    return ServiceMetrics(
        *(
            Metric(CONTAINER_INSIGHTS, name, dims)
            for name in (
                "RunningTaskCount",
                "DesiredTaskCount",
                "CpuUtilized",
                "CpuReserved",
                "MemoryUtilized",
                "MemoryReserved",
            )
        )
    )


def _expression(id_: str, label: str, expression: str) -> cloudwatch.MetricDataQuery:
    return cloudwatch.MetricDataQuery(Id=id_, Label=label, Expression=expression, ReturnData=True)


def _both_groups(
    primary: Metric, alternate: Metric | None, stat: str, label: str, combine: str
) -> dict[str, Any]:
    """A target group's metric as an alarm watches it: the one group's, or, for a progressive
    service, both groups' combined by `combine` (over `primary` and `alternate`): ECS moves
    production between the two, and the new revision takes the canary's share from the other."""
    if alternate is None:
        if stat.startswith("p"):
            return primary.alarm_properties(ExtendedStatistic=stat)
        return primary.alarm_properties(Statistic=stat)
    return {
        "Metrics": [
            primary.query("primary", stat),
            alternate.query("alternate", stat),
            _expression("both", label, combine),
        ]
    }


SUM_OF_BOTH = "FILL(primary, 0) + FILL(alternate, 0)"
MAX_OF_BOTH = "MAX([FILL(primary, 0), FILL(alternate, 0)])"


def add_load_balancer_alarms(
    template: Template,
    alerting: Alerting,
    thresholds: AlarmThresholds,
    load_balancer: elbv2.LoadBalancer | Imported,
    target_group: elbv2.TargetGroup,
    alternate_target_group: elbv2.TargetGroup | None = None,
) -> DeploymentAlarms:
    """`alternate_target_group`: a progressive service's second group (templates/progressive.py),
    which the target groups' alarms watch too."""
    alarms = _Alarms(template, alerting, thresholds.evaluation_periods)
    metrics = load_balancer_metrics(load_balancer, target_group)
    alternate = None
    if alternate_target_group is not None:
        alternate = load_balancer_metrics(load_balancer, alternate_target_group)
    return DeploymentAlarms(
        alarms=(
            alarms.add(
                "LoadBalancer5xxAlarm",
                "The load balancer answers 5xx (no healthy task, or timeouts)",
                thresholds.elb_5xx_count,
                **metrics.elb_5xx.alarm_properties(Statistic="Sum"),
            ),
            alarms.add(
                "Target5xxAlarm",
                "The service's tasks answer 5xx",
                thresholds.target_5xx_count,
                **_both_groups(
                    metrics.target_5xx,
                    None if alternate is None else alternate.target_5xx,
                    "Sum",
                    "Target 5xx, both target groups",
                    SUM_OF_BOTH,
                ),
            ),
            alarms.add(
                "Client4xxRateAlarm",
                "Share of requests answered 4xx, in percent",
                thresholds.client_4xx_percent,
                Metrics=[
                    metrics.target_4xx.query("target4xx", "Sum"),
                    metrics.elb_4xx.query("elb4xx", "Sum"),
                    metrics.requests.query("requests", "Sum"),
                    _expression("rate", CLIENT_4XX_LABEL, CLIENT_4XX_PERCENT),
                ],
            ),
            alarms.add(
                "UnhealthyHostsAlarm",
                "Targets failing the load balancer's health check",
                thresholds.unhealthy_hosts,
                comparison="GreaterThanOrEqualToThreshold",
                **_both_groups(
                    metrics.unhealthy_hosts,
                    None if alternate is None else alternate.unhealthy_hosts,
                    "Maximum",
                    "Unhealthy targets, both target groups",
                    SUM_OF_BOTH,
                ),
            ),
            alarms.add(
                "LatencyP99Alarm",
                "p99 target response time, in seconds",
                thresholds.p99_latency_seconds,
                **_both_groups(
                    metrics.response_time,
                    None if alternate is None else alternate.response_time,
                    "p99",
                    "p99 response time, the slower target group",
                    MAX_OF_BOTH,
                ),
            ),
        )
    )


def add_running_tasks_alarm(
    template: Template,
    alerting: Alerting,
    thresholds: AlarmThresholds,
    cluster: ecs.Cluster | Imported,
    service: ecs.Service,
) -> cloudwatch.Alarm:
    """Container Insights' running count below the desired count (not a deployment alarm:
    during a deployment the counts move on purpose, and the circuit breaker watches them)."""
    metrics = service_metrics(cluster, service)
    return _Alarms(template, alerting, thresholds.evaluation_periods).add(
        "RunningTasksAlarm",
        "Fewer tasks running than desired",
        0,
        Metrics=[
            metrics.running_tasks.query("running", "Average"),
            metrics.desired_tasks.query("desired", "Average"),
            _expression("missing", "Tasks missing", "desired - running"),
        ],
    )
