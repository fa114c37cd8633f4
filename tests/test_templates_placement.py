"""Private placement: where the tasks run, and who reaches what, read off the generated
templates of production (VPC created, endpoints), staging (VPC brought, its own endpoints),
a NAT variant of production, and local (public, the emulator)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from accepted import describe, entries
from environments import load
from service import contract
from templates import build_stacks

ANYWHERE = "0.0.0.0/0"
S3_PREFIX_LIST = "S3PrefixListId"  # the parameter the deployer fills from EC2


def _stacks(env: str | Path) -> dict[str, dict[str, Any]]:
    return {s.key: s.template.to_dict() for s in build_stacks(load(env), "test")}


def _resources(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {k: v["Properties"] for k, v in template["Resources"].items() if v["Type"] == kind}


# A service stack names the environment stack's group by the parameter its ID fills.
SAME_GROUP = {"LoadBalancerSecurityGroupId": "LoadBalancerSecurityGroup"}


def _peer(rule: dict[str, Any], *keys: str) -> str:
    """The other end of a rule: a security group's logical ID or parameter, a prefix list, a
    CIDR block."""
    for key in keys:
        if key in rule:
            value = rule[key]
            peer = value["Ref"] if isinstance(value, dict) else value
            return SAME_GROUP.get(peer, peer)
    raise AssertionError(f"no peer in {rule}")


def _group_of(rule: dict[str, Any]) -> str:
    group = str(rule["GroupId"]["Ref"])
    return SAME_GROUP.get(group, group)


def reach(
    stacks: dict[str, dict[str, Any]],
) -> tuple[set[tuple[str, str, int]], set[tuple[str, str, int]]]:
    """(ingress, egress) of every security group of the stacks, as (from, to, port): inline
    and in SecurityGroupIngress and SecurityGroupEgress resources alike."""
    ingress, egress = set(), set()
    for template in stacks.values():
        for name, group in _resources(template, "AWS::EC2::SecurityGroup").items():
            for rule in group.get("SecurityGroupIngress", []):
                ingress.add(
                    (_peer(rule, "CidrIp", "SourceSecurityGroupId"), name, rule["FromPort"])
                )
            for rule in group.get("SecurityGroupEgress", []):
                assert rule["FromPort"] == rule["ToPort"] or rule["IpProtocol"] == "icmp"
                peer = _peer(
                    rule, "CidrIp", "DestinationSecurityGroupId", "DestinationPrefixListId"
                )
                egress.add((name, peer, rule["FromPort"]))
        for rule in _resources(template, "AWS::EC2::SecurityGroupIngress").values():
            assert rule["FromPort"] == rule["ToPort"]
            ingress.add(
                (_peer(rule, "CidrIp", "SourceSecurityGroupId"), _group_of(rule), rule["FromPort"])
            )
        for rule in _resources(template, "AWS::EC2::SecurityGroupEgress").values():
            assert rule["FromPort"] == rule["ToPort"]
            peer = _peer(rule, "CidrIp", "DestinationSecurityGroupId", "DestinationPrefixListId")
            egress.add((_group_of(rule), peer, rule["FromPort"]))
    return ingress, egress


def test_production_tasks_reach_the_endpoints_and_s3_only() -> None:
    _, egress = reach(_stacks("production"))
    tasks_out = {(to, port) for source, to, port in egress if source == "ServiceSecurityGroup"}
    assert tasks_out == {("EndpointSecurityGroupId", 443), (S3_PREFIX_LIST, 443)}
    # Nothing in the VPC sends to the internet: only the load balancer's group sends at all,
    # to the tasks; the endpoints' group has a rule that matches nothing.
    assert {(s, t, p) for s, t, p in egress if t == ANYWHERE} == set()
    assert ("LoadBalancerSecurityGroup", "ServiceSecurityGroup", contract.PORT) in egress
    (endpoint_egress,) = _resources(_stacks("production")["network"], "AWS::EC2::SecurityGroup")[
        "EndpointSecurityGroup"
    ]["SecurityGroupEgress"]
    assert endpoint_egress["CidrIp"] == "255.255.255.255/32"


def test_production_endpoints_are_reached_by_the_tasks_only() -> None:
    stacks = _stacks("production")
    ingress, _ = reach(stacks)
    # The endpoints' group is the network stack's, passed to the service stack as a parameter
    # that the network stack's EndpointSecurityGroup fills.
    assert {(s, p) for s, t, p in ingress if t == "EndpointSecurityGroupId"} == {
        ("ServiceSecurityGroup", 443)
    }
    assert not _resources(stacks["network"], "AWS::EC2::SecurityGroup")[
        "EndpointSecurityGroup"
    ].get("SecurityGroupIngress")
    # The internet reaches the load balancer; the load balancer the tasks; nothing else.
    assert {(s, t) for s, t, _ in ingress} == {
        (ANYWHERE, "LoadBalancerSecurityGroup"),
        ("LoadBalancerSecurityGroup", "ServiceSecurityGroup"),
        ("ServiceSecurityGroup", "EndpointSecurityGroupId"),
    }
    (service,) = [s for s in build_stacks(load("production"), "t") if s.key == "svc-web"]
    source = service.parameters_from_stacks["EndpointSecurityGroupId"]
    assert (source.stack, source.resources) == ("network", ("EndpointSecurityGroup",))


def test_production_tasks_have_no_public_address_and_run_in_private_subnets() -> None:
    stacks = _stacks("production")
    config = _resources(stacks["svc-web"], "AWS::ECS::Service")["Service"]["NetworkConfiguration"]
    awsvpc = config["AwsvpcConfiguration"]
    assert awsvpc["AssignPublicIp"] == "DISABLED"
    assert awsvpc["Subnets"] == {"Ref": "TaskSubnetIds"}
    (service,) = [s for s in build_stacks(load("production"), "t") if s.key == "svc-web"]
    assert service.parameters_from_stacks["TaskSubnetIds"].resources == (
        "PrivateSubnetA",
        "PrivateSubnetB",
    )
    # The load balancer (the environment stack's) stays in the public subnets.
    (environment,) = [s for s in build_stacks(load("production"), "t") if s.key == "environment"]
    assert environment.parameters_from_stacks["SubnetIds"].resources == (
        "PublicSubnetA",
        "PublicSubnetB",
    )
    load_balancer = _resources(stacks["environment"], "AWS::ElasticLoadBalancingV2::LoadBalancer")
    assert load_balancer["LoadBalancer"]["Subnets"] == {"Ref": "SubnetIds"}


def test_production_private_subnets_have_no_route_out_of_the_vpc() -> None:
    network = _stacks("production")["network"]
    routes = _resources(network, "AWS::EC2::Route").values()
    assert [r["RouteTableId"]["Ref"] for r in routes] == ["PublicRouteTable"]
    assert not _resources(network, "AWS::EC2::NatGateway")


def test_production_reaches_ecr_logs_and_s3_through_endpoints_in_the_private_subnets() -> None:
    endpoints = _resources(_stacks("production")["network"], "AWS::EC2::VPCEndpoint")
    services = {name: e["ServiceName"]["Fn::Join"][1][-1] for name, e in endpoints.items()}
    assert sorted(services.values()) == [".ecr.api", ".ecr.dkr", ".logs", ".s3"]
    for name, endpoint in endpoints.items():
        if services[name] == ".s3":
            assert endpoint["VpcEndpointType"] == "Gateway"
            assert endpoint["RouteTableIds"] == [
                {"Ref": "PrivateSubnetARouteTable"},
                {"Ref": "PrivateSubnetBRouteTable"},
            ]
        else:
            assert endpoint["VpcEndpointType"] == "Interface"
            assert endpoint["PrivateDnsEnabled"] is True  # the usual names resolve to them
            assert endpoint["SubnetIds"] == [{"Ref": "PrivateSubnetA"}, {"Ref": "PrivateSubnetB"}]
            assert endpoint["SecurityGroupIds"] == [{"Ref": "EndpointSecurityGroup"}]


def _text(value: Any) -> str:
    """An ARN as written (Fn::Join of strings and pseudo-parameters), pseudo-parameters as
    ${AccountId}."""
    if isinstance(value, str):
        return value
    if "Ref" in value:
        return "${" + str(value["Ref"]).removeprefix("AWS::") + "}"
    separator, parts = value["Fn::Join"]
    return str(separator).join(_text(part) for part in parts)


def _grants(policy: dict[str, Any]) -> set[tuple[str, str]]:
    """(action, resource) pairs the endpoint policy allows, each statement required to be
    for this account's principals."""
    found = set()
    for statement in policy["Statement"]:
        assert statement["Effect"] == "Allow"
        assert statement["Condition"] == {
            "StringEquals": {"aws:PrincipalAccount": {"Ref": "AWS::AccountId"}}
        }
        found |= {(a, _text(r)) for a in statement["Action"] for r in statement["Resource"]}
    return found


def test_endpoint_policies_allow_what_the_tasks_use_on_this_accounts_resources_only() -> None:
    stacks = build_stacks(load("production"), "test")
    network = next(s for s in stacks if s.key == "network").template.to_dict()
    service = next(s for s in stacks if s.key == "svc-web").template.to_dict()
    endpoints = _resources(network, "AWS::EC2::VPCEndpoint")
    repository = "arn:${Partition}:ecr:${Region}:${AccountId}:repository/scalable-app-production"
    ecr = {
        ("ecr:GetAuthorizationToken", "*"),  # names no resource
        ("ecr:BatchCheckLayerAvailability", repository),
        ("ecr:GetDownloadUrlForLayer", repository),
        ("ecr:BatchGetImage", repository),
    }
    assert _grants(endpoints["EcrApiEndpoint"]["PolicyDocument"]) == ecr
    assert _grants(endpoints["EcrDockerEndpoint"]["PolicyDocument"]) == ecr
    # Every service stack's log group, named by CloudFormation after the stack (svc-<name>) and
    # its logical ID.
    assert "LogGroup" in service["Resources"]
    assert "LogGroupName" not in service["Resources"]["LogGroup"]["Properties"]
    group = "arn:${Partition}:logs:${Region}:${AccountId}:log-group:scalable-app-production-svc-*"
    assert _grants(endpoints["LogsEndpoint"]["PolicyDocument"]) == {
        ("logs:CreateLogStream", group),
        ("logs:PutLogEvents", group),
    }
    layers = "arn:${Partition}:s3:::prod-${Region}-starport-layer-bucket/*"
    assert _grants(endpoints["S3GatewayEndpoint"]["PolicyDocument"]) == {("s3:GetObject", layers)}
    # the repository is the one the registry stack creates
    registry = next(s for s in stacks if s.key == "registry").template.to_dict()
    (created,) = _resources(registry, "AWS::ECR::Repository").values()
    assert created["RepositoryName"] == "scalable-app-production"


def test_staging_tasks_reach_the_brought_vpcs_endpoints_only() -> None:
    env = load("staging")
    (service,) = [s for s in build_stacks(env, "t") if s.key == "svc-web"]
    assert service.parameters["EndpointSecurityGroupId"] == "sg-0123456789abcdef0"
    assert (
        service.parameters["TaskSubnetIds"] == "subnet-0aaaaaaaaaaaaaaa1,subnet-0bbbbbbbbbbbbbbb2"
    )
    ingress, egress = reach({"svc-web": service.template.to_dict()})
    assert {(t, p) for s, t, p in egress if s == "ServiceSecurityGroup"} == {
        ("EndpointSecurityGroupId", 443),
        (S3_PREFIX_LIST, 443),
    }
    assert ("ServiceSecurityGroup", "EndpointSecurityGroupId", 443) in ingress
    awsvpc = _resources(service.template.to_dict(), "AWS::ECS::Service")["Service"][
        "NetworkConfiguration"
    ]["AwsvpcConfiguration"]
    assert (awsvpc["AssignPublicIp"], awsvpc["Subnets"]) == ("DISABLED", {"Ref": "TaskSubnetIds"})


@pytest.fixture
def nat_environment(tmp_path: Path) -> Path:
    text = Path("environments/production.toml").read_text()
    path = tmp_path / "natprod.toml"
    path.write_text(text.replace('egress = "endpoints"', 'egress = "nat"'))
    return path


def test_nat_egress_gives_each_zone_its_own_nat_gateway(nat_environment: Path) -> None:
    network = _stacks(nat_environment)["network"]
    nats = _resources(network, "AWS::EC2::NatGateway")
    assert {n["SubnetId"]["Ref"] for n in nats.values()} == {"PublicSubnetA", "PublicSubnetB"}
    routes = {
        r["RouteTableId"]["Ref"]: r.get("NatGatewayId", r.get("GatewayId"))["Ref"]
        for r in _resources(network, "AWS::EC2::Route").values()
    }
    assert routes == {
        "PublicRouteTable": "InternetGateway",
        "PrivateSubnetARouteTable": "NatGatewayA",
        "PrivateSubnetBRouteTable": "NatGatewayB",
    }
    endpoints = _resources(network, "AWS::EC2::VPCEndpoint")
    assert list(endpoints) == ["S3GatewayEndpoint"]  # S3 skips the NAT's per-GB charge


def test_nat_egress_lets_the_tasks_out_on_443_as_a_declared_risk(nat_environment: Path) -> None:
    service = _stacks(nat_environment)["svc-web"]
    _, egress = reach({"svc-web": service})
    assert {(t, p) for s, t, p in egress if s == "ServiceSecurityGroup"} == {(ANYWHERE, 443)}
    group = service["Resources"]["ServiceSecurityGroup"]
    (risk,) = entries(group)
    assert describe(risk) == "outbound tcp 443 to 0.0.0.0/0" and "NAT" in risk["Reason"]
    assert "EndpointSecurityGroupId" not in service["Parameters"]


def test_local_tasks_are_public_and_declare_it() -> None:
    service = _stacks("local")["svc-web"]
    awsvpc = service["Resources"]["Service"]["Properties"]["NetworkConfiguration"][
        "AwsvpcConfiguration"
    ]
    assert (awsvpc["AssignPublicIp"], awsvpc["Subnets"]) == ("ENABLED", {"Ref": "SubnetIds"})
    assert "TaskSubnetIds" not in service["Parameters"]
    (risk,) = entries(service["Resources"]["ServiceSecurityGroup"])
    assert describe(risk) == "outbound tcp 443 to 0.0.0.0/0"
