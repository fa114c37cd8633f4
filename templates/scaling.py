"""Application Auto Scaling of the service's task count: on CPU and on requests per task."""

from __future__ import annotations

from troposphere import Join, Template
from troposphere import applicationautoscaling as aas

from environments.model import ScalingConfig, ServiceConfig
from templates.ecs_service import EcsService
from templates.edge import Edge

SCALE_IN_COOLDOWN_SECONDS = 300
SCALE_OUT_COOLDOWN_SECONDS = 60


def add_scaling(
    template: Template, config: ServiceConfig, scaling: ScalingConfig, ecs: EcsService, edge: Edge
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
    _add_policy(
        template,
        "RequestCountScalingPolicy",
        target,
        float(scaling.requests_per_target),
        aas.PredefinedMetricSpecification(
            PredefinedMetricType="ALBRequestCountPerTarget",
            ResourceLabel=Join(
                "/",
                [
                    edge.load_balancer.get_att("LoadBalancerFullName"),
                    edge.target_group.get_att("TargetGroupFullName"),
                ],
            ),
        ),
    )
    return target


def _add_policy(
    template: Template,
    title: str,
    target: aas.ScalableTarget,
    value: float,
    metric: aas.PredefinedMetricSpecification,
) -> aas.ScalingPolicy:
    return template.add_resource(
        aas.ScalingPolicy(
            title,
            PolicyName=title,
            PolicyType="TargetTrackingScaling",
            ScalingTargetId=target.ref(),
            TargetTrackingScalingPolicyConfiguration=aas.TargetTrackingScalingPolicyConfiguration(
                TargetValue=value,
                PredefinedMetricSpecification=metric,
                ScaleInCooldown=SCALE_IN_COOLDOWN_SECONDS,
                ScaleOutCooldown=SCALE_OUT_COOLDOWN_SECONDS,
            ),
        )
    )
