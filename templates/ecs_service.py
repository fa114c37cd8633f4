"""The ECS cluster, the Fargate task definition and the service that keeps it running.

Deployments start the new tasks before stopping old ones (100 % minimum healthy, 200 %
maximum), roll back by themselves when the new tasks do not get healthy (circuit breaker) or
when a load balancer alarm fires (deployment alarms, see monitoring.py). A progressive service
(blue/green, canary, linear: templates/progressive.py) keeps all of that, and adds its strategy,
its pause for the deployer and the second target group with the rules ECS shifts. The two
percentages stay: the resource schema says they go unused only with the CODE_DEPLOY and EXTERNAL
deployment controllers on Fargate, and ECS's own blue/green runs under the ECS controller.
"""

from __future__ import annotations

from dataclasses import dataclass

from troposphere import (
    AccountId,
    Join,
    NoValue,
    Output,
    Region,
    Template,
    URLSuffix,
    cloudwatch,
    ecs,
    logs,
)

from environments.model import ServiceConfig
from service import contract
from templates.edge import Edge
from templates.iam import Roles
from templates.imported import CLUSTER, Imported
from templates.progressive import Progressive, advanced_configuration, strategy_settings
from templates.secrets import source_arn

MINIMUM_HEALTHY_PERCENT = 100
MAXIMUM_PERCENT = 200


def health_command(port: int, path: str) -> str:
    """The container checks itself with the interpreter this repository's image already has:
    no curl needed."""
    return (
        f"import urllib.request; urllib.request.urlopen('http://127.0.0.1:{port}{path}', timeout=3)"
    )


SCRATCH_VOLUME = "tmp"  # the one writable path of a read-only root filesystem


@dataclass(frozen=True)
class EcsService:
    cluster: ecs.Cluster | Imported  # the environment stack's
    task_definition: ecs.TaskDefinition
    service: ecs.Service


def add_cluster(template: Template) -> ecs.Cluster:
    """The environment's cluster, which every service's tasks run in."""
    cluster: ecs.Cluster = template.add_resource(
        ecs.Cluster(
            CLUSTER,
            ClusterSettings=[ecs.ClusterSetting(Name="containerInsights", Value="enabled")],
        )
    )
    return cluster


def image_uri(repository_name: object, image_tag: object) -> Join:
    return Join(
        "", [AccountId, ".dkr.ecr.", Region, ".", URLSuffix, "/", repository_name, ":", image_tag]
    )


def _health_check(config: ServiceConfig) -> ecs.HealthCheck | object:
    """The container's own health check, where the image is this repository's (it has Python);
    an image the file names by URI may have no interpreter: the target group's check alone."""
    if config.image.uri is not None:
        return NoValue
    return ecs.HealthCheck(
        Command=["CMD", "python", "-c", health_command(config.port, config.health_path)],
        Interval=15,
        Timeout=5,
        Retries=3,
        StartPeriod=10,
    )


def _secrets(config: ServiceConfig) -> dict[str, object]:
    """The container's Secrets (read by ECS with the execution role), when it has any."""
    if not config.secrets:
        return {}
    secrets = [
        ecs.Secret(Name=name, ValueFrom=source_arn(source))
        for name, source in sorted(config.secrets.items())
    ]
    return {"Secrets": secrets}


def _container(
    config: ServiceConfig,
    image: object,
    log_group: logs.LogGroup,
    environment: dict[str, object],
) -> ecs.ContainerDefinition:
    return ecs.ContainerDefinition(
        Name=contract.CONTAINER_NAME,
        Image=image,
        Essential=True,
        # Stated here, not left to the image: a task definition alone shows it runs as non-root.
        User=contract.USER,
        ReadonlyRootFilesystem=True,
        PortMappings=[ecs.PortMapping(ContainerPort=config.port, Protocol="tcp")],
        **_secrets(config),
        Environment=[ecs.Environment(Name=k, Value=v) for k, v in sorted(environment.items())],
        MountPoints=[
            ecs.MountPoint(SourceVolume=SCRATCH_VOLUME, ContainerPath="/tmp", ReadOnly=False)
        ],
        HealthCheck=_health_check(config),
        LogConfiguration=ecs.LogConfiguration(
            LogDriver="awslogs",
            Options={
                "awslogs-group": log_group.ref(),
                "awslogs-region": Region,
                "awslogs-stream-prefix": contract.CONTAINER_NAME,
            },
        ),
    )


def add_ecs_service(
    template: Template,
    config: ServiceConfig,
    cluster: ecs.Cluster | Imported,
    image: object,
    environment: dict[str, object],
    log_group: logs.LogGroup,
    roles: Roles,
    edge: Edge,
    subnet_ids: object,
    deployment_alarms: tuple[cloudwatch.Alarm, ...],
    public_address: bool,
    progressive: Progressive | None = None,
) -> EcsService:
    """`public_address`: the tasks run in public subnets and reach AWS through the internet
    gateway; otherwise they run in private subnets (through VPC endpoints or a NAT gateway).
    `progressive`: the resources of a blue/green, canary or linear deployment."""
    task_definition = template.add_resource(
        ecs.TaskDefinition(
            "TaskDefinition",
            RequiresCompatibilities=["FARGATE"],
            NetworkMode="awsvpc",
            Cpu=str(config.cpu),
            Memory=str(config.memory),
            ExecutionRoleArn=roles.execution.get_att("Arn"),
            TaskRoleArn=roles.task.get_att("Arn"),
            RuntimePlatform=ecs.RuntimePlatform(
                OperatingSystemFamily="LINUX", CpuArchitecture="X86_64"
            ),
            Volumes=[ecs.Volume(Name=SCRATCH_VOLUME)],
            ContainerDefinitions=[_container(config, image, log_group, environment)],
        )
    )
    service = template.add_resource(
        ecs.Service(
            "Service",
            **_depends_on(edge, progressive),
            Cluster=cluster.ref(),
            TaskDefinition=task_definition.ref(),
            LaunchType="FARGATE",
            # No DesiredCount: the task count is Application Auto Scaling's (the
            # ScalableTarget, templates/scaling.py), and a deploy must not reset a service it
            # scaled out. AWS's AWS::ECS::Service reference (DesiredCount, in the schema
            # cfn-lint ships): "For new services, if a desired count is not specified, a
            # default value of 1 is used ... For existing services, if a desired count is not
            # specified, it is omitted from the operation." And RegisterScalableTarget, on a
            # new target: "it changes the resource's current capacity to a value that is
            # inside of this range", so a new service is brought to min_count at once.
            HealthCheckGracePeriodSeconds=config.health_check_grace_seconds,
            PropagateTags="SERVICE",
            EnableECSManagedTags=True,
            DeploymentConfiguration=ecs.DeploymentConfiguration(
                MinimumHealthyPercent=MINIMUM_HEALTHY_PERCENT,
                MaximumPercent=MAXIMUM_PERCENT,
                DeploymentCircuitBreaker=ecs.DeploymentCircuitBreaker(Enable=True, Rollback=True),
                Alarms=ecs.DeploymentAlarms(
                    AlarmNames=[alarm.ref() for alarm in deployment_alarms],
                    Enable=True,
                    Rollback=True,
                ),
                **strategy_settings(config.deployment),
            ),
            NetworkConfiguration=ecs.NetworkConfiguration(
                AwsvpcConfiguration=ecs.AwsvpcConfiguration(
                    # In a public subnet a task needs a public address to reach ECR and
                    # CloudWatch; nothing reaches it there but the load balancer (edge.py).
                    AssignPublicIp="ENABLED" if public_address else "DISABLED",
                    SecurityGroups=[edge.service_security_group.ref()],
                    Subnets=subnet_ids,
                )
            ),
            LoadBalancers=[
                ecs.LoadBalancer(
                    ContainerName=contract.CONTAINER_NAME,
                    ContainerPort=config.port,
                    TargetGroupArn=edge.target_group.ref(),
                    **_advanced(edge, progressive),
                )
            ],
        )
    )
    template.add_output(Output("ClusterName", Value=cluster.ref()))
    template.add_output(Output("ServiceName", Value=service.get_att("Name")))
    return EcsService(cluster=cluster, task_definition=task_definition, service=service)


def _depends_on(edge: Edge, progressive: Progressive | None) -> dict[str, object]:
    """The target group must belong to a load balancer before a service may use it: its rule
    first. A progressive service names both rules in its AdvancedConfiguration, which orders
    them already."""
    if progressive is not None:
        return {}
    return {"DependsOn": [edge.listener_rule]}


def _advanced(edge: Edge, progressive: Progressive | None) -> dict[str, object]:
    if progressive is None:
        return {}
    return {"AdvancedConfiguration": advanced_configuration(edge, progressive)}
