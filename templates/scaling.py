"""Application Auto Scaling of the service's task count: on CPU and on requests per task.

Requests per task is ALBRequestCountPerTarget of the service's target group; a progressive
service has two, between which ECS moves production at every deployment, so it tracks the same
quantity over both by metric math: both groups' requests over both groups' healthy targets.
"""

from __future__ import annotations

from troposphere import Join, Template
from troposphere import applicationautoscaling as aas
from troposphere import elasticloadbalancingv2 as elbv2

from environments.model import ScalingConfig, ServiceConfig
from templates.ecs_service import EcsService
from templates.edge import Edge
from templates.monitoring import ALB, PERIOD_SECONDS, Metric, load_balancer_metrics

# Requests a minute per healthy target, over both target groups; 0 with no healthy target.
PER_TARGET_OF_BOTH = "IF(hosts > 0, (FILL(requests0, 0) + FILL(requests1, 0)) / hosts, 0)"

SCALE_IN_COOLDOWN_SECONDS = 300
SCALE_OUT_COOLDOWN_SECONDS = 60


def add_scaling(
    template: Template,
    config: ServiceConfig,
    scaling: ScalingConfig,
    ecs: EcsService,
    edge: Edge,
    alternate_target_group: elbv2.TargetGroup | None = None,
) -> aas.ScalableTarget:
    target = template.add_resource(
        aas.ScalableTarget(
            "ScalableTarget",
            ServiceNamespace="ecs",
            ScalableDimension="ecs:service:DesiredCount",
            ResourceId=Join("/", ["service", ecs.cluster.ref(), ecs.service.get_att("Name")]),
            MinCapacity=config.min_count,
            MaxCapacity=config.max_count,
        )
    )
    _add_policy(
        template,
        "CpuScalingPolicy",
        target,
        scaling.cpu_target_percent,
        aas.PredefinedMetricSpecification(PredefinedMetricType="ECSServiceAverageCPUUtilization"),
    )
    requests: aas.PredefinedMetricSpecification | aas.CustomizedMetricSpecification
    if alternate_target_group is None:
        requests = aas.PredefinedMetricSpecification(
            PredefinedMetricType="ALBRequestCountPerTarget",
            ResourceLabel=Join(
                "/",
                [
                    edge.load_balancer.get_att("LoadBalancerFullName"),
                    edge.target_group.get_att("TargetGroupFullName"),
                ],
            ),
        )
    else:
        requests = _requests_per_target_of_both(edge, alternate_target_group)
    _add_policy(
        template, "RequestCountScalingPolicy", target, float(scaling.requests_per_target), requests
    )
    return target


def _query(id_: str, metric: Metric, stat: str) -> aas.TargetTrackingMetricDataQuery:
    return aas.TargetTrackingMetricDataQuery(
        Id=id_,
        ReturnData=False,
        MetricStat=aas.TargetTrackingMetricStat(
            Stat=stat,
            Metric=aas.TargetTrackingMetric(
                Namespace=metric.namespace,
                MetricName=metric.name,
                Dimensions=[
                    aas.TargetTrackingMetricDimension(Name=name, Value=value)
                    for name, value in metric.dimensions
                ],
            ),
        ),
    )


def _requests_per_target_of_both(
    edge: Edge, alternate: elbv2.TargetGroup
) -> aas.CustomizedMetricSpecification:
    """ALBRequestCountPerTarget's quantity over both target groups (RequestCount per healthy
    target, per minute, as the predefined metric counts it)."""
    groups = [
        load_balancer_metrics(edge.load_balancer, tg) for tg in (edge.target_group, alternate)
    ]
    queries = [
        _query(f"requests{n}", Metric(ALB, "RequestCount", group.healthy_hosts.dimensions), "Sum")
        for n, group in enumerate(groups)
    ]
    queries += [
        _query(f"hosts{n}", group.healthy_hosts, "Average") for n, group in enumerate(groups)
    ]
    queries.append(
        aas.TargetTrackingMetricDataQuery(
            Id="hosts", Expression="FILL(hosts0, 0) + FILL(hosts1, 0)", ReturnData=False
        )
    )
    queries.append(
        aas.TargetTrackingMetricDataQuery(
            Id="pertarget",
            Label=f"Requests per healthy target per {PERIOD_SECONDS} seconds, both groups",
            Expression=PER_TARGET_OF_BOTH,
            ReturnData=True,
        )
    )
    return aas.CustomizedMetricSpecification(Metrics=queries)


def _add_policy(
    template: Template,
    title: str,
    target: aas.ScalableTarget,
    value: float,
    metric: aas.PredefinedMetricSpecification | aas.CustomizedMetricSpecification,
) -> aas.ScalingPolicy:
    return template.add_resource(
        aas.ScalingPolicy(
            title,
            PolicyName=title,
            PolicyType="TargetTrackingScaling",
            ScalingTargetId=target.ref(),
            TargetTrackingScalingPolicyConfiguration=aas.TargetTrackingScalingPolicyConfiguration(
                TargetValue=value,
                **{_spec_key(metric): metric},
                ScaleInCooldown=SCALE_IN_COOLDOWN_SECONDS,
                ScaleOutCooldown=SCALE_OUT_COOLDOWN_SECONDS,
            ),
        )
    )


def _spec_key(metric: aas.PredefinedMetricSpecification | aas.CustomizedMetricSpecification) -> str:
    if isinstance(metric, aas.CustomizedMetricSpecification):
        return "CustomizedMetricSpecification"
    return "PredefinedMetricSpecification"
