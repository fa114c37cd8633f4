"""The VPC the service runs in, when the environment does not bring one.

Two public subnets in the first two availability zones of the region (picked at deploy time
with GetAZs/Select, so the template names no zone), an internet gateway and one route table
whose default route leads to it. The load balancer and the tasks live in these subnets; the
tasks are reachable only from the load balancer's security group (see edge.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from troposphere import GetAZs, Join, Select, StackName, Tags, Template, ec2

from environments.model import CreateVpc

# Logical IDs that the service stack's parameters are filled from (see templates/__init__.py).
VPC = "Vpc"
PUBLIC_SUBNETS = ("PublicSubnetA", "PublicSubnetB")


@dataclass(frozen=True)
class Network:
    vpc: ec2.VPC
    public_subnets: tuple[ec2.Subnet, ec2.Subnet]


def add_network(template: Template, config: CreateVpc) -> Network:
    vpc = template.add_resource(
        ec2.VPC(
            VPC,
            CidrBlock=config.cidr,
            EnableDnsHostnames=True,
            EnableDnsSupport=True,
            Tags=Tags(Name=StackName),
        )
    )
    gateway = template.add_resource(
        ec2.InternetGateway("InternetGateway", Tags=Tags(Name=StackName))
    )
    attachment = template.add_resource(
        ec2.VPCGatewayAttachment(
            "InternetGatewayAttachment", VpcId=vpc.ref(), InternetGatewayId=gateway.ref()
        )
    )
    route_table = template.add_resource(
        ec2.RouteTable(
            "PublicRouteTable", VpcId=vpc.ref(), Tags=Tags(Name=Join("-", [StackName, "public"]))
        )
    )
    template.add_resource(
        ec2.Route(
            "PublicDefaultRoute",
            DependsOn=attachment,
            RouteTableId=route_table.ref(),
            DestinationCidrBlock="0.0.0.0/0",
            GatewayId=gateway.ref(),
        )
    )
    subnets = tuple(
        _add_public_subnet(template, vpc, route_table, title, index, cidr)
        for index, (title, cidr) in enumerate(zip(PUBLIC_SUBNETS, config.subnet_cidrs, strict=True))
    )
    return Network(vpc=vpc, public_subnets=(subnets[0], subnets[1]))


def _add_public_subnet(
    template: Template,
    vpc: ec2.VPC,
    route_table: ec2.RouteTable,
    title: str,
    index: int,
    cidr: str,
) -> ec2.Subnet:
    subnet = template.add_resource(
        ec2.Subnet(
            title,
            VpcId=vpc.ref(),
            CidrBlock=cidr,
            # "" is the stack's own region (moto resolves only this form, not Ref AWS::Region).
            AvailabilityZone=Select(index, GetAZs("")),
            # No address by default: the ECS service asks for one per task (no NAT gateway, so
            # the tasks reach ECR and CloudWatch directly); only the load balancer reaches them.
            MapPublicIpOnLaunch=False,
            Tags=Tags(Name=Join("-", [StackName, "public", str(index + 1)])),
        )
    )
    template.add_resource(
        ec2.SubnetRouteTableAssociation(
            f"{title}RouteTableAssociation",
            SubnetId=subnet.ref(),
            RouteTableId=route_table.ref(),
        )
    )
    return subnet
