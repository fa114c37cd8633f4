"""The local environment's stacks are accepted by moto's CloudFormation through change sets.

This is the templates' side of the deploy: parameters are resolved the way the manifest says
(upstream stacks' physical IDs), each stack is created by CreateChangeSet + ExecuteChangeSet,
and the resources that moto emulates really exist afterwards. What moto needs that an account
already has (hosted zone, SSM parameter, an ACM certificate) is created first; moto validates
the listener's certificate, so the test passes the ARN of one it issued.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import boto3
import pytest

import generate
from deployer.changeset import minified
from environments import load

PAGERDUTY = "https://events.pagerduty.com/integration/0000/enqueue"


def _wait(cf: Any, stack_id: str) -> dict[str, Any]:
    for _ in range(200):
        stack = cf.describe_stacks(StackName=stack_id)["Stacks"][0]
        if not stack["StackStatus"].endswith("_IN_PROGRESS"):
            return stack
        time.sleep(0.05)
    raise AssertionError(f"{stack_id} still in progress")


def _physical_ids(cf: Any, stack_id: str) -> dict[str, str]:
    resources = cf.describe_stack_resources(StackName=stack_id)["StackResources"]
    return {
        r["LogicalResourceId"]: r["PhysicalResourceId"]
        for r in resources
        if r.get("LogicalResourceId") and r.get("PhysicalResourceId")
    }


def s3_prefix_list_id() -> str:
    """The region's S3 prefix list as the emulator's EC2 has it (as the deployer reads it)."""
    (found,) = boto3.client("ec2").describe_prefix_lists(
        Filters=[{"Name": "prefix-list-name", "Values": ["com.amazonaws.us-east-1.s3"]}]
    )["PrefixLists"]
    return str(found["PrefixListId"])


def _create_stacks(env_path: str | Path, tmp_path: Path) -> dict[str, str]:
    """Every stack of the environment, created through change sets in the manifest's order with
    its parameters resolved as the manifest says: stack key -> stack ID."""
    env = load(env_path)
    files = generate.generate(env, "0123456789ab")
    generate.write(tmp_path, files)
    manifest = json.loads(files["manifest.json"])
    cf = boto3.client("cloudformation")
    zone = boto3.client("route53").create_hosted_zone(
        Name=manifest["hosted_zone"]["name"], CallerReference="test"
    )["HostedZone"]["Id"]
    for name in manifest["ssm_parameters"]:
        boto3.client("ssm").put_parameter(Name=name, Value=PAGERDUTY, Type="String")
    certificate = boto3.client("acm").request_certificate(
        DomainName=env.dns.domain_name, ValidationMethod="DNS"
    )["CertificateArn"]

    created: dict[str, str] = {}
    for spec in manifest["stacks"]:
        values = dict(spec["parameters"])
        for name, source in spec["parameters_from_stacks"].items():
            ids = _physical_ids(cf, created[source["stack"]])
            values[name] = ",".join(ids[r] for r in source["resources"])
        for name in spec["parameters_from_hosted_zone"]:
            values[name] = zone.split("/")[-1]
        for name in spec["parameters_from_stack_exists"]:
            values[name] = "false"  # the first create (production's; local has none)
        for name in spec["parameters_from_s3_prefix_list"]:
            values[name] = s3_prefix_list_id()
        body = (tmp_path / spec["template"]).read_text()
        if "CertificateArn" in json.loads(body).get("Parameters", {}):  # found by domain
            values["CertificateArn"] = certificate
        change_set = cf.create_change_set(
            StackName=spec["stack_name"],
            ChangeSetName="create",
            ChangeSetType="CREATE",
            TemplateBody=minified(body),  # as the deployer sends it: under 51,200 bytes
            Capabilities=spec["capabilities"],
            Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in values.items()],
            Tags=[{"Key": k, "Value": v} for k, v in spec["tags"].items()],
        )
        cf.execute_change_set(ChangeSetName=change_set["Id"])
        assert _wait(cf, change_set["StackId"])["StackStatus"] == "CREATE_COMPLETE"
        created[spec["key"]] = change_set["StackId"]
    return created


# moto warns for each resource type it skips (alarms, scaling, bucket policy): known, see
# ../shared/EMULATOR.md; AWS creates them.
@pytest.mark.filterwarnings("ignore:Tried to parse:UserWarning")
def test_local_stacks_are_created_on_moto_through_change_sets(
    aws: dict[str, str], tmp_path: Path
) -> None:
    created = _create_stacks("local", tmp_path)
    cf = boto3.client("cloudformation")
    network = _physical_ids(cf, created["network"])
    assert network["Vpc"].startswith("vpc-")
    repository = boto3.client("ecr").describe_repositories()["repositories"][0]
    assert repository["repositoryName"] == "scalable-app-local"
    assert repository["imageTagMutability"] == "IMMUTABLE"
    environment = _physical_ids(cf, created["environment"])
    assert {"LoadBalancer", "HttpsListener", "Cluster", "AlertTopic"} <= set(environment)
    service = _physical_ids(cf, created["svc-web"])
    assert {"TargetGroup", "ListenerRule", "Service", "TaskDefinition"} <= set(service)
    # One cluster, one load balancer: both services run behind them.
    (cluster,) = boto3.client("ecs").list_clusters()["clusterArns"]
    assert len(boto3.client("ecs").list_services(cluster=cluster)["serviceArns"]) == 2
    assert len(boto3.client("elbv2").describe_load_balancers()["LoadBalancers"]) == 1
    (subscription,) = boto3.client("sns").list_subscriptions()["Subscriptions"]
    assert (subscription["Protocol"], subscription["Endpoint"]) == ("https", PAGERDUTY)
    (tasks,) = boto3.client("ec2").describe_security_groups(
        GroupIds=[service["ServiceSecurityGroup"]]
    )["SecurityGroups"]
    (ingress,) = tasks["IpPermissions"]
    assert (ingress["FromPort"], ingress["ToPort"]) == (8448, 8448)
    assert [p["GroupId"] for p in ingress["UserIdGroupPairs"]] == [
        environment["LoadBalancerSecurityGroup"]
    ]
    assert ingress["IpRanges"] == []
    group = boto3.client("elbv2").describe_target_groups(TargetGroupArns=[service["TargetGroup"]])[
        "TargetGroups"
    ][0]
    assert (group["Port"], group["HealthCheckPath"]) == (8448, "/_health")


CONDITION_CONFIG = {"host-header": "HostHeaderConfig", "path-pattern": "PathPatternConfig"}


def _values(condition: dict[str, Any]) -> list[str]:
    """A rule condition's values, from its field's config (what the template sets)."""
    values: list[str] = condition[CONDITION_CONFIG[condition["Field"]]]["Values"]
    return values


THREE_SERVICES = """
[services.web]
min_count = 1

[services.api]
path = "/api"
min_count = 1

[services.admin]
host = "admin.example.com"
image = "public.ecr.aws/nginx/nginx:1.27"
port = 80
health_path = "/"
min_count = 1
"""


@pytest.mark.filterwarnings("ignore:Tried to parse:UserWarning")
def test_three_services_share_one_load_balancer_with_distinct_rules_and_priorities(
    aws: dict[str, str], tmp_path: Path
) -> None:
    """Created on the emulator through change sets, read back with DescribeRules: each service
    has its rule on the one HTTPS listener, with its conditions, its priority and its target
    group; what no rule matches gets the listener's 404."""
    local = (Path(__file__).parent.parent / "environments/local.toml").read_text()
    path = tmp_path / "three.toml"
    path.write_text(local[: local.index("[services.")] + THREE_SERVICES)
    created = _create_stacks(path, tmp_path / "build")
    cf, elbv2 = boto3.client("cloudformation"), boto3.client("elbv2")
    assert len(elbv2.describe_load_balancers()["LoadBalancers"]) == 1
    listener = _physical_ids(cf, created["environment"])["HttpsListener"]
    rules = elbv2.describe_rules(ListenerArn=listener)["Rules"]
    (default,) = [rule for rule in rules if rule["IsDefault"]]
    assert default["Actions"][0]["Type"] == "fixed-response"
    assert default["Actions"][0]["FixedResponseConfig"]["StatusCode"] == "404"
    by_group = {
        rule["Actions"][0]["TargetGroupArn"]: rule for rule in rules if not rule["IsDefault"]
    }
    env = load(path)
    seen = set()
    for service in env.services:
        group = _physical_ids(cf, created[f"svc-{service.name}"])["TargetGroup"]
        rule = by_group[group]
        assert int(rule["Priority"]) == service.priority
        conditions = {c["Field"]: _values(c) for c in rule["Conditions"]}
        assert conditions["host-header"] == [service.route.host]
        if service.route.path:
            assert conditions["path-pattern"] == [service.route.path, f"{service.route.path}/*"]
        seen.add(rule["Priority"])
    assert len(seen) == 3  # distinct priorities
    priority = {s.name: s.priority for s in env.services}
    assert priority["api"] < priority["web"]  # /api is matched before the domain as a whole


@pytest.mark.filterwarnings("ignore:Tried to parse:UserWarning")
def test_private_placement_is_created_on_moto_and_reaches_only_the_endpoints(
    aws: dict[str, str], tmp_path: Path
) -> None:
    """The local environment placed private (through endpoints), created on the emulator: the
    endpoints exist in the private subnets, those subnets have no route out of the VPC, the
    flow log records the VPC, and the endpoints' group admits the tasks' group only."""
    text = (Path(__file__).parent.parent / "environments/local.toml").read_text()
    path = tmp_path / "private.toml"
    path.write_text(text.replace('placement = "public"', 'placement = "private"'))
    created = _create_stacks(path, tmp_path / "build")
    cf, ec2 = boto3.client("cloudformation"), boto3.client("ec2")
    network = _physical_ids(cf, created["network"])
    private = {network["PrivateSubnetA"], network["PrivateSubnetB"]}

    endpoints = ec2.describe_vpc_endpoints()["VpcEndpoints"]
    interface = {e["ServiceName"]: e for e in endpoints if e["VpcEndpointType"] == "Interface"}
    assert sorted(interface) == [
        "com.amazonaws.us-east-1.ecr.api",
        "com.amazonaws.us-east-1.ecr.dkr",
        "com.amazonaws.us-east-1.logs",
    ]
    for endpoint in interface.values():
        assert set(endpoint["SubnetIds"]) == private
        assert [g["GroupId"] for g in endpoint["Groups"]] == [network["EndpointSecurityGroup"]]
    # By the stack's IDs: moto does not index associations made by CloudFormation.
    tables = ec2.describe_route_tables(
        RouteTableIds=[network["PrivateSubnetARouteTable"], network["PrivateSubnetBRouteTable"]]
    )["RouteTables"]
    assert len(tables) == 2
    for table in tables:
        assert not [r for r in table["Routes"] if r.get("DestinationCidrBlock") == "0.0.0.0/0"]
    (flow_log,) = ec2.describe_flow_logs()["FlowLogs"]
    assert (flow_log["ResourceId"], flow_log["TrafficType"]) == (network["Vpc"], "ALL")

    tasks = {
        _physical_ids(cf, created[key])["ServiceSecurityGroup"] for key in ("svc-web", "svc-api")
    }
    endpoint_group = network["EndpointSecurityGroup"]
    (group,) = ec2.describe_security_groups(GroupIds=[endpoint_group])["SecurityGroups"]
    (admitted,) = group["IpPermissions"]
    assert (admitted["FromPort"], admitted["ToPort"]) == (443, 443)
    assert {p["GroupId"] for p in admitted["UserIdGroupPairs"]} == tasks  # each service's
    assert admitted["IpRanges"] == []
    # The tasks' egress (443 to the endpoints' group and S3's prefix list only) is read off the
    # template in test_templates_placement.py: moto creates no inline SecurityGroupEgress.


@pytest.mark.filterwarnings("ignore:Tried to parse:UserWarning")
def test_an_update_leaves_the_desired_count_that_autoscaling_set(
    aws: dict[str, str], tmp_path: Path
) -> None:
    """The service scaled out to 3 (by Application Auto Scaling, which moto does not run: an
    UpdateService stands in for it); a deploy of a new image leaves it at 3, where a
    DesiredCount in the template would reset it."""
    created = _create_stacks("local", tmp_path)
    cf, ecs = boto3.client("cloudformation"), boto3.client("ecs")
    (cluster,) = ecs.list_clusters()["clusterArns"]
    service = _physical_ids(cf, created["svc-web"])["Service"]
    # (moto starts it at 0 where AWS starts it at 1: nothing to read before the scale-out)
    ecs.update_service(cluster=cluster, service=service, desiredCount=3)
    stack = cf.describe_stacks(StackName=created["svc-web"])["Stacks"][0]
    values = {p["ParameterKey"]: p["ParameterValue"] for p in stack["Parameters"]}
    values.update(ImageTag="fedcba987654")
    change_set = cf.create_change_set(
        StackName=stack["StackName"],
        ChangeSetName="update",
        ChangeSetType="UPDATE",
        TemplateBody=minified((tmp_path / "svc-web.json").read_text()),
        Capabilities=["CAPABILITY_IAM"],
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in values.items()],
    )
    cf.execute_change_set(ChangeSetName=change_set["Id"])
    assert _wait(cf, change_set["StackId"])["StackStatus"] == "UPDATE_COMPLETE"
    described = ecs.describe_services(cluster=cluster, services=[service])["services"][0]
    assert described["desiredCount"] == 3
