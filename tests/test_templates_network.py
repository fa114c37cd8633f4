"""The network stack: a VPC with two public subnets in two AZs, or nothing when one is brought."""

from __future__ import annotations

from typing import Any

from environments import load
from templates import build_stacks


def _stacks(env_name: str) -> dict[str, Any]:
    return {s.key: s for s in build_stacks(load(env_name), "test")}


def _resources(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == kind}


def test_production_creates_a_vpc_with_public_and_private_subnets_in_two_zones() -> None:
    network = _stacks("production")["network"].template.to_dict()
    vpc = network["Resources"]["Vpc"]["Properties"]
    assert vpc["CidrBlock"] == "10.20.0.0/16"
    subnets = _resources(network, "AWS::EC2::Subnet")
    assert sorted(subnets) == ["PrivateSubnetA", "PrivateSubnetB", "PublicSubnetA", "PublicSubnetB"]
    zones = [s["Properties"]["AvailabilityZone"] for s in subnets.values()]
    assert sorted(z["Fn::Select"][0] for z in zones) == [0, 0, 1, 1]  # one of each per zone
    assert all(z["Fn::Select"][1] == {"Fn::GetAZs": ""} for z in zones)
    cidrs = {s["Properties"]["CidrBlock"] for s in subnets.values()}
    assert len(cidrs) == 4
    assert not any(s["Properties"]["MapPublicIpOnLaunch"] for s in subnets.values())


def test_local_creates_public_subnets_only() -> None:
    network = _stacks("local")["network"].template.to_dict()
    assert sorted(_resources(network, "AWS::EC2::Subnet")) == ["PublicSubnetA", "PublicSubnetB"]
    assert not _resources(network, "AWS::EC2::VPCEndpoint")


def test_only_public_subnets_route_to_the_internet_gateway() -> None:
    network = _stacks("production")["network"].template.to_dict()
    (route,) = _resources(network, "AWS::EC2::Route").values()  # endpoints: no NAT route
    assert route["Properties"]["DestinationCidrBlock"] == "0.0.0.0/0"
    assert route["Properties"]["GatewayId"] == {"Ref": "InternetGateway"}
    assert route["Properties"]["RouteTableId"] == {"Ref": "PublicRouteTable"}
    associations = _resources(network, "AWS::EC2::SubnetRouteTableAssociation")
    tables = {
        a["Properties"]["SubnetId"]["Ref"]: a["Properties"]["RouteTableId"]["Ref"]
        for a in associations.values()
    }
    assert tables == {
        "PublicSubnetA": "PublicRouteTable",
        "PublicSubnetB": "PublicRouteTable",
        "PrivateSubnetA": "PrivateSubnetARouteTable",
        "PrivateSubnetB": "PrivateSubnetBRouteTable",
    }


def test_service_takes_the_network_from_the_network_stack() -> None:
    service = _stacks("production")["svc-web"]
    assert service.depends_on == ("environment", "network", "registry", "static")
    assert _stacks("production")["environment"].depends_on == ("network",)
    assert service.parameters_from_stacks["VpcId"].stack == "network"
    # production's tasks run in the private subnets, its load balancer in the public ones.
    assert service.parameters_from_stacks["TaskSubnetIds"].resources == (
        "PrivateSubnetA",
        "PrivateSubnetB",
    )
    assert _stacks("production")["environment"].parameters_from_stacks["SubnetIds"].resources == (
        "PublicSubnetA",
        "PublicSubnetB",
    )


def test_no_network_stack_when_the_environment_brings_a_vpc() -> None:
    env = load("staging")
    stacks = _stacks("staging")
    assert "network" not in stacks
    service = stacks["svc-web"]
    assert service.depends_on == ("environment", "registry", "static")
    assert service.parameters["VpcId"] == env.network.vpc_id
    # staging's tasks run in the brought VPC's private subnets, its load balancer in the others.
    assert service.parameters["TaskSubnetIds"] == ",".join(
        s.id for s in env.network.private_subnets
    )
    environment = stacks["environment"]
    assert environment.parameters["SubnetIds"] == ",".join(s.id for s in env.network.subnets)
    assert "VpcId" not in service.parameters_from_stacks
