"""Not tests: small stacks built with troposphere, written as a build manifest through the
manifest module (helpers for the deployer tests).

They stand in for generate.py's output where a test needs to choose what changes (desired
count, alarm threshold, image tag) and must not depend on the real templates.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from troposphere import (
    GetAtt,
    Join,
    Output,
    Parameter,
    Sub,
    Template,
    cloudwatch,
    ec2,
    ecr,
    ecs,
    logs,
    ssm,
)
from troposphere import elasticloadbalancingv2 as elbv2

from manifest import (
    ENVIRONMENT_TAG,
    SERVICE_TAG,
    FromStack,
    Image,
    Manifest,
    ServiceSpec,
    StackSpec,
)

ENV = "local"  # environments/local.toml: its region (us-east-1) matches the emulator's
REPOSITORY = "scalable-app-local"
PAGERDUTY_VAR = "TEST_PAGERDUTY_URL"


def network() -> Template:
    template = Template()
    vpc = template.add_resource(ec2.VPC("Vpc", CidrBlock="10.0.0.0/16"))
    for name, cidr, zone in (
        ("PublicSubnetA", "10.0.0.0/19", "a"),
        ("PublicSubnetB", "10.0.32.0/19", "b"),
    ):
        template.add_resource(
            ec2.Subnet(name, VpcId=vpc.ref(), CidrBlock=cidr, AvailabilityZone=f"us-east-1{zone}")
        )
    template.add_output(Output("VpcId", Value=vpc.ref()))
    return template


def registry(padding: int = 0, arn_output: bool = False) -> Template:
    template = Template()
    repository = template.add_resource(ecr.Repository("Repository", RepositoryName=REPOSITORY))
    template.add_output(Output("RepositoryUri", Value=repository.get_att("RepositoryUri")))
    if arn_output:  # an Outputs-only change: no resource changes
        template.add_output(Output("RepositoryArn", Value=repository.get_att("Arn")))
    if padding:  # a template over CloudFormation's 51,200-byte TemplateBody limit
        template.set_metadata({"Padding": "x" * padding})
    return template


def service(desired_count: int, threshold: int) -> Template:
    template = Template()
    image_tag = template.add_parameter(Parameter("ImageTag", Type="String"))
    subnets = template.add_parameter(Parameter("SubnetIds", Type="CommaDelimitedList"))
    repository = template.add_parameter(Parameter("RepositoryName", Type="String"))
    template.add_parameter(Parameter("PagerDutyUrl", Type="String", NoEcho=True))
    cluster = template.add_resource(  # with a property: moto reports a bare one as modified
        ecs.Cluster(
            "Cluster",
            ClusterSettings=[ecs.ClusterSetting(Name="containerInsights", Value="enabled")],
        )
    )
    log_group = template.add_resource(logs.LogGroup("LogGroup", RetentionInDays=7))
    task = template.add_resource(
        ecs.TaskDefinition(
            "TaskDefinition",
            ContainerDefinitions=[
                ecs.ContainerDefinition(
                    Name="app",
                    Image=Sub(
                        "${AWS::AccountId}.dkr.ecr.${AWS::Region}.amazonaws.com/${Repo}:${Tag}",
                        Repo=repository.ref(),
                        Tag=image_tag.ref(),
                    ),
                    Memory=512,
                    LogConfiguration=ecs.LogConfiguration(
                        LogDriver="awslogs",
                        Options={"awslogs-group": log_group.ref(), "awslogs-region": "us-east-1"},
                    ),
                )
            ],
        )
    )
    template.add_resource(
        ecs.Service(
            "Service", Cluster=cluster.ref(), TaskDefinition=task.ref(), DesiredCount=desired_count
        )
    )
    load_balancer = template.add_resource(
        elbv2.LoadBalancer("LoadBalancer", Subnets=subnets.ref(), Scheme="internet-facing")
    )
    template.add_resource(
        cloudwatch.Alarm(
            "Target5xxAlarm",
            Namespace="AWS/ApplicationELB",
            MetricName="HTTPCode_Target_5XX_Count",
            Statistic="Sum",
            Period=60,
            EvaluationPeriods=3,
            Threshold=threshold,
            ComparisonOperator="GreaterThanThreshold",
        )
    )
    template.add_output(
        Output("Url", Value=Join("", ["http://", GetAtt(load_balancer, "DNSName"), "/"]))
    )
    template.add_output(Output("ClusterName", Value=cluster.ref()))
    return template


def web_service(image: Image | None, stack: str = "service") -> tuple[ServiceSpec, ...]:
    """The one service `web`, run by the stack `stack` from `image`."""
    return (ServiceSpec("web", stack, image, "https://local.example.com", "/_health"),)


def manifest_of(directory: Path, stacks: tuple[StackSpec, ...], **fields: Any) -> Manifest:
    """A manifest of `stacks` for the local environment in directory; `fields` override."""
    defaults: dict[str, Any] = {
        "environment": ENV,
        "source": f"environments/{ENV}.toml",
        "region": "us-east-1",
        "termination_protection": False,
        "services": web_service(Image(REPOSITORY, "v1")),
        "hosted_zone_name": None,
        "ssm_parameters": {},
    }
    return Manifest(path=directory / "manifest.json", stacks=stacks, **{**defaults, **fields})


def save(directory: Path, manifest: Manifest) -> Path:
    """Write `manifest` as generate.py does (through the manifest module) into directory."""
    directory.mkdir(parents=True, exist_ok=True)
    text = json.dumps(manifest.to_dict(), indent=2, sort_keys=True)
    (directory / "manifest.json").write_text(text)
    return directory


def write(
    directory: Path,
    *,
    desired_count: int = 1,
    threshold: int = 10,
    image_tag: str = "v1",
    padding: int = 0,
    termination_protection: bool = False,
    arn_output: bool = False,
    role_arn: str | None = None,
) -> Path:
    """Write the three stacks and manifest.json into directory; returns it."""
    directory.mkdir(parents=True, exist_ok=True)
    templates = {
        "network": network(),
        "registry": registry(padding, arn_output),
        "service": service(desired_count, threshold),
    }
    for key, template in templates.items():
        (directory / f"{key}.json").write_text(
            json.dumps(template.to_dict(), sort_keys=True, indent=1)
        )

    def spec(key: str, **wiring: Any) -> StackSpec:
        return StackSpec(
            key,
            f"test-{key}",
            directory / f"{key}.json",
            tags={"team": "platform"},
            role_arn=role_arn,
            **wiring,
        )

    manifest = manifest_of(
        directory,
        termination_protection=termination_protection,
        services=web_service(Image(REPOSITORY, image_tag)),
        hosted_zone_name="example.com.",
        ssm_parameters={"/scalable-app/local/pagerduty-url": "PagerDuty URL"},
        stacks=(
            spec("network"),
            spec("registry"),
            spec(
                "service",
                depends_on=("network", "registry"),
                service="web",
                parameters={"ImageTag": image_tag},
                parameters_from_stacks={
                    "SubnetIds": FromStack("network", ("PublicSubnetA", "PublicSubnetB")),
                    "RepositoryName": FromStack("registry", ("Repository",)),
                },
                parameters_from_env={"PagerDutyUrl": PAGERDUTY_VAR},
            ),
        ),
    )
    return save(directory, manifest)


def parameter_stack(key: str, upstream: bool) -> Template:
    """One SSM parameter; with `upstream`, its value is read from another stack's output."""
    t = Template()
    value = t.add_parameter(Parameter("Upstream", Type="String")).ref() if upstream else "v"
    parameter = t.add_resource(
        ssm.Parameter("Parameter", Name=f"/test/{key}", Type="String", Value=value)
    )
    t.add_output(Output("Name", Value=parameter.ref()))
    return t


def write_graph(
    directory: Path,
    stacks: dict[str, tuple[str, ...]],
    services: dict[str, str] | None = None,
    reads_upstream: bool = True,
) -> Path:
    """A manifest of small stacks (key: the keys it depends on, whose output it reads unless
    not `reads_upstream`), each tagged with the environment, and `services`' (key: service)
    with their service, written through the manifest module as generate.py writes it.

    moto refuses CreateChangeSet on a stack with parameters whose template and values are
    unchanged ("No updates are to be performed", a ValidationError; AWS makes a FAILED change
    set that says so): a test that plans such a stack again passes reads_upstream=False."""
    directory.mkdir(parents=True, exist_ok=True)
    services = services or {}
    specs = []
    for key, upstream in stacks.items():
        path = directory / f"{key}.json"
        reads = bool(upstream) and reads_upstream
        path.write_text(json.dumps(parameter_stack(key, reads).to_dict()))
        service = services.get(key)
        specs.append(
            StackSpec(
                key,
                f"test-{key}",
                path,
                tags={ENVIRONMENT_TAG: ENV, **({SERVICE_TAG: service} if service else {})},
                depends_on=upstream,
                parameters_from_stacks={"Upstream": FromStack(upstream[0], output="Name")}
                if reads
                else {},
                service=service,
            )
        )
    # the services of those stacks (no image of ours: nothing to check in ECR)
    served = tuple(
        ServiceSpec(name, key, None, f"https://local.example.com/{name}", "/_health")
        for key, name in services.items()
        if key in stacks
    )
    return save(directory, manifest_of(directory, tuple(specs), services=served))


def run_json(build_dir: Path, capture: Any, *args: str) -> tuple[int, str, dict[str, Any]]:
    """deploy.main in this process with --output json: its exit code, its progress (stderr),
    its document (stdout), as pytest's `capture` (capsys) caught them."""
    import deploy

    code = deploy.main(["--env", ENV, "--build-dir", str(build_dir), "--output", "json", *args])
    captured = capture.readouterr()
    return code, captured.err, json.loads(captured.out)
