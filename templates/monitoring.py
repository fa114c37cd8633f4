"""Alerting: a KMS key, the SNS topic encrypted with it, PagerDuty's subscription, the alarms.

Every alarm publishes on ALARM and on OK, so the PagerDuty incident opens and resolves by itself.
The load balancer's alarms double as the ECS deployment alarms (see ecs_service.py): a
deployment that makes them fire is rolled back.

The PagerDuty subscription is given inline on the topic. AWS creates it either way; moto (our
local AWS) creates inline subscriptions but skips `AWS::SNS::Subscription` resources.
"""

from __future__ import annotations

from dataclasses import dataclass

import awacs.kms as akms
from awacs.aws import Allow, ArnLike, Condition, PolicyDocument, Principal, Statement
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

PERIOD_SECONDS = 60

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
                Condition=Condition(
                    ArnLike(
                        "kms:EncryptionContext:aws:logs:arn",
                        Join(
                            "",
                            ["arn:", Partition, ":logs:", Region, ":", AccountId, ":log-group:*"],
                        ),
                    )
                ),
            ),
        ],
    )


def add_alerting(template: Template, pagerduty_url: Parameter) -> Alerting:
    key = template.add_resource(
        kms.Key(
            "AlertingKey",
            Description="Encrypts the alert topic and the service's logs",
            EnableKeyRotation=True,
            KeyPolicy=_key_policy(),
        )
    )
    topic = template.add_resource(
        sns.Topic(
            "AlertTopic",
            KmsMasterKeyId=key.ref(),
            Subscription=[sns.Subscription(Protocol="https", Endpoint=pagerduty_url.ref())],
        )
    )
    return Alerting(key=key, topic=topic)


def _alarm(
    template: Template,
    title: str,
    description: str,
    topic: sns.Topic,
    threshold: float,
    periods: int,
    comparison: str,
    **metric: object,
) -> cloudwatch.Alarm:
    return template.add_resource(
        cloudwatch.Alarm(
            title,
            AlarmDescription=description,
            Threshold=threshold,
            EvaluationPeriods=periods,
            DatapointsToAlarm=periods,
            ComparisonOperator=comparison,
            TreatMissingData="notBreaching",
            AlarmActions=[topic.ref()],
            OKActions=[topic.ref()],
            **metric,
        )
    )


def _dims(**values: object) -> list[cloudwatch.MetricDimension]:
    return [cloudwatch.MetricDimension(Name=name, Value=value) for name, value in values.items()]


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


def add_load_balancer_alarms(
    template: Template,
    alerting: Alerting,
    thresholds: AlarmThresholds,
    load_balancer: elbv2.LoadBalancer,
    target_group: elbv2.TargetGroup,
) -> DeploymentAlarms:
    topic, periods = alerting.topic, thresholds.evaluation_periods
    lb = load_balancer.get_att("LoadBalancerFullName")
    tg = target_group.get_att("TargetGroupFullName")
    alb = {"Namespace": "AWS/ApplicationELB", "Period": PERIOD_SECONDS}
    elb_5xx = _alarm(
        template,
        "LoadBalancer5xxAlarm",
        "The load balancer answers 5xx (no healthy task, or timeouts)",
        topic,
        thresholds.elb_5xx_count,
        periods,
        "GreaterThanThreshold",
        MetricName="HTTPCode_ELB_5XX_Count",
        Statistic="Sum",
        Dimensions=_dims(LoadBalancer=lb),
        **alb,
    )
    target_5xx = _alarm(
        template,
        "Target5xxAlarm",
        "The service's tasks answer 5xx",
        topic,
        thresholds.target_5xx_count,
        periods,
        "GreaterThanThreshold",
        MetricName="HTTPCode_Target_5XX_Count",
        Statistic="Sum",
        Dimensions=_dims(LoadBalancer=lb, TargetGroup=tg),
        **alb,
    )
    dims = _dims(LoadBalancer=lb)
    client_4xx = _alarm(
        template,
        "Client4xxRateAlarm",
        "Share of requests answered 4xx, in percent",
        topic,
        thresholds.client_4xx_percent,
        periods,
        "GreaterThanThreshold",
        Metrics=[
            _query("target4xx", "AWS/ApplicationELB", "HTTPCode_Target_4XX_Count", "Sum", dims),
            _query("elb4xx", "AWS/ApplicationELB", "HTTPCode_ELB_4XX_Count", "Sum", dims),
            _query("requests", "AWS/ApplicationELB", "RequestCount", "Sum", dims),
            cloudwatch.MetricDataQuery(
                Id="rate",
                Label="4xx percent of requests",
                Expression=(
                    "IF(requests > 0, 100 * (FILL(target4xx, 0) + FILL(elb4xx, 0)) / requests, 0)"
                ),
                ReturnData=True,
            ),
        ],
    )
    unhealthy = _alarm(
        template,
        "UnhealthyHostsAlarm",
        "Targets failing the load balancer's health check",
        topic,
        thresholds.unhealthy_hosts,
        periods,
        "GreaterThanOrEqualToThreshold",
        MetricName="UnHealthyHostCount",
        Statistic="Maximum",
        Dimensions=_dims(LoadBalancer=lb, TargetGroup=tg),
        **alb,
    )
    latency = _alarm(
        template,
        "LatencyP99Alarm",
        "p99 target response time, in seconds",
        topic,
        thresholds.p99_latency_seconds,
        periods,
        "GreaterThanThreshold",
        MetricName="TargetResponseTime",
        ExtendedStatistic="p99",
        Dimensions=_dims(LoadBalancer=lb, TargetGroup=tg),
        **alb,
    )
    return DeploymentAlarms(alarms=(elb_5xx, target_5xx, client_4xx, unhealthy, latency))


def add_running_tasks_alarm(
    template: Template,
    alerting: Alerting,
    thresholds: AlarmThresholds,
    cluster: ecs.Cluster,
    service: ecs.Service,
) -> cloudwatch.Alarm:
    """Container Insights' running count below the desired count (not a deployment alarm:
    during a deployment the counts move on purpose, and the circuit breaker watches them)."""
    ecs_dims = _dims(ClusterName=cluster.ref(), ServiceName=service.get_att("Name"))
    return _alarm(
        template,
        "RunningTasksAlarm",
        "Fewer tasks running than desired",
        alerting.topic,
        0,
        thresholds.evaluation_periods,
        "GreaterThanThreshold",
        Metrics=[
            _query("running", "ECS/ContainerInsights", "RunningTaskCount", "Average", ecs_dims),
            _query("desired", "ECS/ContainerInsights", "DesiredTaskCount", "Average", ecs_dims),
            cloudwatch.MetricDataQuery(
                Id="missing", Label="Tasks missing", Expression="desired - running", ReturnData=True
            ),
        ],
    )
