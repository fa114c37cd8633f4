"""The VPC the service runs in, when the environment does not bring one.

Subnets in the first two availability zones of the region (picked at deploy time with
GetAZs/Select, so the template names no zone):
- two public subnets, routed to an internet gateway: the load balancer (and, with
  `placement = "public"`, the tasks, each with a public address);
- with `placement = "private"`, two private subnets for the tasks, each with a route table of
  its own. No address in them is reachable from the internet. `egress = "endpoints"`: they
  have no route out of the VPC at all, and reach ECR, CloudWatch Logs and S3 through VPC
  endpoints (vpc_endpoints.py); `egress = "nat"`: a NAT gateway per zone, in that zone's
  public subnet, is their default route (so one zone's outage takes only its own tasks).
Flow logs record every accepted and rejected connection of the VPC in CloudWatch Logs.
"""

from __future__ import annotations

from dataclasses import dataclass

import awacs.logs as alogs
from awacs.aws import Allow, PolicyDocument, Statement
from troposphere import (
    AccountId,
    GetAZs,
    Join,
    Partition,
    Region,
    Select,
    StackName,
    Tags,
    Template,
    ec2,
    iam,
    logs,
)

from environments.model import NAT, CreateVpc
from templates.declared import accepts, declare, permits, trusts
from templates.iam import assumed_by
from templates.vpc_endpoints import TasksUse, add_interface_endpoints, add_s3_gateway_endpoint

# Logical IDs that the service stack's parameters are filled from (see templates/__init__.py).
VPC = "Vpc"
PUBLIC_SUBNETS = ("PublicSubnetA", "PublicSubnetB")
PRIVATE_SUBNETS = ("PrivateSubnetA", "PrivateSubnetB")
ANYWHERE = "0.0.0.0/0"

FLOW_LOG_GROUP_RISK = accepts(
    "Flow log group encrypted by CloudWatch Logs' own key, not a customer-managed KMS key",
    "Flow records are connection metadata (addresses, ports, byte counts; no payload), "
    "encrypted at rest by CloudWatch Logs; a customer-managed key would add a key to run "
    "for no reader it would keep out that IAM does not.",
    checkov=("CKV_AWS_158",),
)


@dataclass(frozen=True)
class Network:
    vpc: ec2.VPC
    public_subnets: tuple[ec2.Subnet, ec2.Subnet]
    private_subnets: tuple[ec2.Subnet, ...]  # none with public placement
    endpoint_security_group: ec2.SecurityGroup | None  # private placement through endpoints


def add_network(
    template: Template,
    config: CreateVpc,
    retention_days: int,
    uses: TasksUse,
    boundary: object,
) -> Network:
    """The VPC; `uses`: what the tasks reach through its interface endpoints, if it has any."""
    vpc = template.add_resource(
        ec2.VPC(
            VPC,
            CidrBlock=config.cidr,
            EnableDnsHostnames=True,  # private DNS of the interface endpoints needs both
            EnableDnsSupport=True,
            Tags=Tags(Name=StackName),
        )
    )
    public = _add_public_subnets(template, vpc, config.subnet_cidrs)
    private: tuple[ec2.Subnet, ...] = ()
    endpoint_group = None
    if config.placement.private:
        private, route_tables = _add_private_subnets(template, vpc, config.private_subnet_cidrs)
        add_s3_gateway_endpoint(template, vpc, route_tables)
        if config.placement.egress == NAT:
            for index, (subnet, table) in enumerate(zip(public, route_tables, strict=True)):
                _add_nat_route(template, subnet, table, "AB"[index])
        else:
            endpoint_group = add_interface_endpoints(template, vpc, private, uses)
    _add_flow_logs(template, vpc, retention_days, boundary)
    return Network(
        vpc=vpc,
        public_subnets=public,
        private_subnets=private,
        endpoint_security_group=endpoint_group,
    )


def _add_public_subnets(
    template: Template, vpc: ec2.VPC, cidrs: tuple[str, str]
) -> tuple[ec2.Subnet, ec2.Subnet]:
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
            DestinationCidrBlock=ANYWHERE,
            GatewayId=gateway.ref(),
        )
    )
    a, b = (
        _add_subnet(template, vpc, route_table, title, index, cidr, "public")
        for index, (title, cidr) in enumerate(zip(PUBLIC_SUBNETS, cidrs, strict=True))
    )
    return a, b


def _add_private_subnets(
    template: Template, vpc: ec2.VPC, cidrs: tuple[str, str]
) -> tuple[tuple[ec2.Subnet, ...], tuple[ec2.RouteTable, ...]]:
    subnets, tables = [], []
    for index, (title, cidr) in enumerate(zip(PRIVATE_SUBNETS, cidrs, strict=True)):
        table = template.add_resource(
            ec2.RouteTable(
                f"{title}RouteTable",
                VpcId=vpc.ref(),
                Tags=Tags(Name=Join("-", [StackName, "private", str(index + 1)])),
            )
        )
        subnets.append(_add_subnet(template, vpc, table, title, index, cidr, "private"))
        tables.append(table)
    return tuple(subnets), tuple(tables)


def _add_subnet(
    template: Template,
    vpc: ec2.VPC,
    route_table: ec2.RouteTable,
    title: str,
    index: int,
    cidr: str,
    kind: str,
) -> ec2.Subnet:
    subnet = template.add_resource(
        ec2.Subnet(
            title,
            VpcId=vpc.ref(),
            CidrBlock=cidr,
            # "" is the stack's own region (moto resolves only this form, not Ref AWS::Region).
            AvailabilityZone=Select(index, GetAZs("")),
            # No address by default, public subnets included: only a task placed public asks
            # for one (ecs_service.py), and only the load balancer reaches it.
            MapPublicIpOnLaunch=False,
            Tags=Tags(Name=Join("-", [StackName, kind, str(index + 1)])),
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


def _add_nat_route(
    template: Template, public_subnet: ec2.Subnet, route_table: ec2.RouteTable, zone: str
) -> None:
    address = template.add_resource(ec2.EIP(f"NatAddress{zone}", Domain="vpc"))
    nat = template.add_resource(
        ec2.NatGateway(
            f"NatGateway{zone}",
            AllocationId=address.get_att("AllocationId"),
            SubnetId=public_subnet.ref(),
            Tags=Tags(Name=Join("-", [StackName, "nat", zone.lower()])),
        )
    )
    template.add_resource(
        ec2.Route(
            f"PrivateDefaultRoute{zone}",
            RouteTableId=route_table.ref(),
            DestinationCidrBlock=ANYWHERE,
            NatGatewayId=nat.ref(),
        )
    )


def _add_flow_logs(
    template: Template, vpc: ec2.VPC, retention_days: int, boundary: object
) -> ec2.FlowLog:
    group = template.add_resource(
        logs.LogGroup(
            "FlowLogGroup",
            # An incident's network record must outlive the stack, as the service's logs do.
            DeletionPolicy="Retain",
            UpdateReplacePolicy="Retain",
            RetentionInDays=retention_days,
        )
    )
    declare(group, FLOW_LOG_GROUP_RISK)
    role = template.add_resource(
        iam.Role(
            "FlowLogRole",
            AssumeRolePolicyDocument=_assumed_by_flow_logs(),
            PermissionsBoundary=boundary,
            Policies=[
                iam.Policy(
                    PolicyName="write-flow-logs",
                    PolicyDocument=PolicyDocument(
                        Version="2012-10-17",
                        Statement=[
                            Statement(
                                Sid="WriteFlowLogs",
                                Effect=Allow,
                                Action=[
                                    alogs.CreateLogStream,
                                    alogs.PutLogEvents,
                                    alogs.DescribeLogStreams,
                                ],
                                Resource=[group.get_att("Arn")],
                            )
                        ],
                    ),
                )
            ],
        )
    )
    declare(
        role,
        trusts("vpc-flow-logs.amazonaws.com", "VPC Flow Logs writes this VPC's flow log"),
        permits(
            [alogs.CreateLogStream, alogs.PutLogEvents, alogs.DescribeLogStreams],
            "into the flow log's own group only",
        ),
    )
    flow_log: ec2.FlowLog = template.add_resource(
        ec2.FlowLog(
            "VpcFlowLog",
            ResourceId=vpc.ref(),
            ResourceType="VPC",
            TrafficType="ALL",
            LogDestinationType="cloud-watch-logs",
            LogGroupName=group.ref(),
            DeliverLogsPermissionArn=role.get_att("Arn"),
            MaxAggregationInterval=60,
            Tags=Tags(Name=StackName),
        )
    )
    return flow_log


def _assumed_by_flow_logs() -> PolicyDocument:
    """VPC Flow Logs may take the role only for this account's flow logs (confused deputy)."""
    flow_logs = Join("", ["arn:", Partition, ":ec2:", Region, ":", AccountId, ":vpc-flow-log/*"])
    return assumed_by("vpc-flow-logs.amazonaws.com", flow_logs)
