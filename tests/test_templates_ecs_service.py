"""The cluster, the task definition, the service's deployments and its scaling."""

from __future__ import annotations

from typing import Any

from templates_support import properties, stack_template

from environments import load
from service import contract


def _container() -> dict[str, Any]:
    (container,) = properties("TaskDefinition")["ContainerDefinitions"]
    return container


def test_cluster_has_container_insights() -> None:
    assert properties("Cluster", key="environment")["ClusterSettings"] == [
        {"Name": "containerInsights", "Value": "enabled"}
    ]


def test_fargate_task_size_comes_from_the_environment() -> None:
    env = load("production")
    task = properties("TaskDefinition")
    assert task["RequiresCompatibilities"] == ["FARGATE"]
    assert task["NetworkMode"] == "awsvpc"
    assert (task["Cpu"], task["Memory"]) == (str(env.services[0].cpu), str(env.services[0].memory))
    local = properties("TaskDefinition", "local")
    assert (local["Cpu"], local["Memory"]) == ("256", "512")


def test_one_container_on_the_service_port_with_a_read_only_root() -> None:
    container = _container()
    assert container["Name"] == contract.CONTAINER_NAME
    assert container["PortMappings"] == [{"ContainerPort": contract.PORT, "Protocol": "tcp"}]
    assert container["ReadonlyRootFilesystem"] is True
    assert container["Essential"] is True


def test_container_runs_the_image_tag_parameter_from_the_repository_parameter() -> None:
    image = _container()["Image"]["Fn::Join"][1]
    assert {"Ref": "RepositoryName"} in image
    assert {"Ref": "ImageTag"} in image


def test_container_checks_its_own_health_path() -> None:
    command = _container()["HealthCheck"]["Command"]
    assert command[0] == "CMD"
    assert f"http://127.0.0.1:{contract.PORT}{contract.HEALTH_PATH}" in command[-1]


def test_container_logs_to_the_log_group_with_awslogs() -> None:
    logging = _container()["LogConfiguration"]
    assert logging["LogDriver"] == "awslogs"
    assert logging["Options"]["awslogs-group"] == {"Ref": "LogGroup"}


def test_container_learns_where_static_assets_are() -> None:
    # the CDN's URL under this revision (test_templates_static_assets.py has the rest)
    environment = {e["Name"]: e["Value"] for e in _container()["Environment"]}
    assert set(environment) == {"STATIC_URL"}
    assert {"Ref": "ImageTag"} in environment["STATIC_URL"]["Fn::Join"][1]


def test_deployments_keep_full_capacity_and_roll_back_by_themselves() -> None:
    service = properties("Service")
    deployment = service["DeploymentConfiguration"]
    assert (deployment["MinimumHealthyPercent"], deployment["MaximumPercent"]) == (100, 200)
    assert deployment["DeploymentCircuitBreaker"] == {"Enable": True, "Rollback": True}
    alarms = deployment["Alarms"]
    assert (alarms["Enable"], alarms["Rollback"]) == (True, True)
    assert {a["Ref"] for a in alarms["AlarmNames"]} == {
        "LoadBalancer5xxAlarm",
        "Target5xxAlarm",
        "Client4xxRateAlarm",
        "UnhealthyHostsAlarm",
        "LatencyP99Alarm",
    }


def test_service_count_grace_period_and_target_group() -> None:
    env = load("production")
    service = properties("Service")
    assert service["LaunchType"] == "FARGATE"
    assert "DesiredCount" not in service  # autoscaling's (tests/test_templates_aws_rules.py)
    assert service["HealthCheckGracePeriodSeconds"] == env.services[0].health_check_grace_seconds
    (balancer,) = service["LoadBalancers"]
    assert {key: balancer[key] for key in ("ContainerName", "ContainerPort", "TargetGroupArn")} == {
        "ContainerName": contract.CONTAINER_NAME,
        "ContainerPort": contract.PORT,
        "TargetGroupArn": {"Ref": "TargetGroup"},
    }
    network = service["NetworkConfiguration"]["AwsvpcConfiguration"]
    assert network["SecurityGroups"] == [{"Ref": "ServiceSecurityGroup"}]


def test_scaling_between_min_and_max_on_cpu_and_requests_per_target() -> None:
    env = load("production")
    target = properties("ScalableTarget")
    assert (target["MinCapacity"], target["MaxCapacity"]) == (
        env.services[0].min_count,
        env.services[0].max_count,
    )
    assert target["ScalableDimension"] == "ecs:service:DesiredCount"
    cpu = properties("CpuScalingPolicy")["TargetTrackingScalingPolicyConfiguration"]
    assert cpu["PredefinedMetricSpecification"]["PredefinedMetricType"] == (
        "ECSServiceAverageCPUUtilization"
    )
    assert cpu["TargetValue"] == env.scaling.cpu_target_percent
    requests = properties("RequestCountScalingPolicy")["TargetTrackingScalingPolicyConfiguration"]
    assert requests["TargetValue"] == env.scaling.requests_per_target
    # A rolling service (local's web): the predefined metric of its one target group.
    rolling = properties("RequestCountScalingPolicy", env_name="local")
    metric = rolling["TargetTrackingScalingPolicyConfiguration"]["PredefinedMetricSpecification"]
    assert metric["PredefinedMetricType"] == "ALBRequestCountPerTarget"
    assert "ResourceLabel" in metric


def test_a_progressive_service_scales_on_requests_per_target_over_both_groups() -> None:
    """production's web is a canary: after a deployment production is served by whichever
    target group ECS moved it to; the policy counts both groups' requests and healthy targets."""
    config = properties("RequestCountScalingPolicy")["TargetTrackingScalingPolicyConfiguration"]
    assert "PredefinedMetricSpecification" not in config
    queries = config["CustomizedMetricSpecification"]["Metrics"]
    stats = {q["Id"]: q["MetricStat"] for q in queries if "MetricStat" in q}
    assert {q["Metric"]["MetricName"] for q in stats.values()} == {
        "RequestCount",
        "HealthyHostCount",
    }
    groups = {
        str(dim["Value"])
        for q in stats.values()
        for dim in q["Metric"]["Dimensions"]
        if dim["Name"] == "TargetGroup"
    }
    assert len(groups) == 2 and any("AlternateTargetGroup" in g for g in groups)
    (returned,) = [q for q in queries if q.get("ReturnData")]
    assert "/ hosts" in returned["Expression"]


def test_outputs_name_the_cluster_and_thestack_template() -> None:
    assert set(stack_template()["Outputs"]) >= {"ClusterName", "ServiceName", "Url", "LogGroupName"}
