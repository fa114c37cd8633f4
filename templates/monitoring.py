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
    Template,
    cloudwatch,
    ecs,
    kms,
    sns,
)
from troposphere import elasticloadbalancingv2 as elbv2

from environments.model import AlarmThresholds
from templates.declared import declare, grants
from templates.risks import Risk, declared

PERIOD_SECONDS = 60
ALB = "AWS/ApplicationELB"
CONTAINER_INSIGHTS = "ECS/ContainerInsights"
# 4xx (the tasks' and the load balancer's own) per 100 requests; 0 when there is no traffic.
CLIENT_4XX_PERCENT = "IF(requests > 0, 100 * (FILL(target4xx, 0) + FILL(elb4xx, 0)) / requests, 0)"

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


KEY_ADMIN_RISK = declared(
    Risk(
        "The key policy grants the account root (so IAM policies) the key's administration",
        "Without it nobody could ever change or schedule the deletion of the key; it grants "
        "no use of the key (no Encrypt or Decrypt), and no service outside this account.",
    )
)


@dataclass(frozen=True)
class Alerting:
    key: kms.Key
    topic: sns.Topic


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
            "AlertingKey",
            Metadata=KEY_ADMIN_RISK,
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
            "AlertTopic",
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


def _dims(**values: object) -> list[cloudwatch.MetricDimension]:
    return [cloudwatch.MetricDimension(Name=name, Value=value) for name, value in values.items()]


def _metric(
    namespace: str, name: str, dims: list[cloudwatch.MetricDimension], **stat: str
) -> dict[str, Any]:
    """The properties of a single-metric alarm (stat: Statistic= or ExtendedStatistic=)."""
    return {
        "Namespace": namespace,
        "MetricName": name,
        "Dimensions": dims,
        "Period": PERIOD_SECONDS,
        **stat,
    }


def _query(
    id_: str, namespace: str, name: str, stat: str, dims: list[cloudwatch.MetricDimension]
) -> cloudwatch.MetricDataQuery:
    return cloudwatch.MetricDataQuery(
        Id=id_,
        ReturnData=False,
        MetricStat=cloudwatch.MetricStat(
            Metric=cloudwatch.Metric(Namespace=namespace, MetricName=name, Dimensions=dims),
            Period=PERIOD_SECONDS,
            Stat=stat,
        ),
    )


def _expression(id_: str, label: str, expression: str) -> cloudwatch.MetricDataQuery:
    return cloudwatch.MetricDataQuery(Id=id_, Label=label, Expression=expression, ReturnData=True)


def add_load_balancer_alarms(
    template: Template,
    alerting: Alerting,
    thresholds: AlarmThresholds,
    load_balancer: elbv2.LoadBalancer,
    target_group: elbv2.TargetGroup,
) -> DeploymentAlarms:
    alarms = _Alarms(template, alerting, thresholds.evaluation_periods)
    lb = _dims(LoadBalancer=load_balancer.get_att("LoadBalancerFullName"))
    lb_tg = lb + _dims(TargetGroup=target_group.get_att("TargetGroupFullName"))
    return DeploymentAlarms(
        alarms=(
            alarms.add(
                "LoadBalancer5xxAlarm",
                "The load balancer answers 5xx (no healthy task, or timeouts)",
                thresholds.elb_5xx_count,
                **_metric(ALB, "HTTPCode_ELB_5XX_Count", lb, Statistic="Sum"),
            ),
            alarms.add(
                "Target5xxAlarm",
                "The service's tasks answer 5xx",
                thresholds.target_5xx_count,
                **_metric(ALB, "HTTPCode_Target_5XX_Count", lb_tg, Statistic="Sum"),
            ),
            alarms.add(
                "Client4xxRateAlarm",
                "Share of requests answered 4xx, in percent",
                thresholds.client_4xx_percent,
                Metrics=[
                    _query("target4xx", ALB, "HTTPCode_Target_4XX_Count", "Sum", lb),
                    _query("elb4xx", ALB, "HTTPCode_ELB_4XX_Count", "Sum", lb),
                    _query("requests", ALB, "RequestCount", "Sum", lb),
                    _expression(
                        "rate",
                        "4xx percent of requests",
                        CLIENT_4XX_PERCENT,
                    ),
                ],
            ),
            alarms.add(
                "UnhealthyHostsAlarm",
                "Targets failing the load balancer's health check",
                thresholds.unhealthy_hosts,
                comparison="GreaterThanOrEqualToThreshold",
                **_metric(ALB, "UnHealthyHostCount", lb_tg, Statistic="Maximum"),
            ),
            alarms.add(
                "LatencyP99Alarm",
                "p99 target response time, in seconds",
                thresholds.p99_latency_seconds,
                **_metric(ALB, "TargetResponseTime", lb_tg, ExtendedStatistic="p99"),
            ),
        )
    )


def add_running_tasks_alarm(
    template: Template,
    alerting: Alerting,
    thresholds: AlarmThresholds,
    cluster: ecs.Cluster,
    service: ecs.Service,
) -> cloudwatch.Alarm:
    """Container Insights' running count below the desired count (not a deployment alarm:
    during a deployment the counts move on purpose, and the circuit breaker watches them)."""
    dims = _dims(ClusterName=cluster.ref(), ServiceName=service.get_att("Name"))
    return _Alarms(template, alerting, thresholds.evaluation_periods).add(
        "RunningTasksAlarm",
        "Fewer tasks running than desired",
        0,
        Metrics=[
            _query("running", CONTAINER_INSIGHTS, "RunningTaskCount", "Average", dims),
            _query("desired", CONTAINER_INSIGHTS, "DesiredTaskCount", "Average", dims),
            _expression("missing", "Tasks missing", "desired - running"),
        ],
    )
