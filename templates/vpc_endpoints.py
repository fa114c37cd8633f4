"""How tasks in private subnets reach AWS without a way out of the VPC.

Interface endpoints for ecr.api (the registry token, the image manifest), ecr.dkr (the image
pull) and logs (the awslogs driver), in the private subnets, with private DNS so that the
usual service names resolve to them; a gateway endpoint for S3, where ECR keeps the image
layers. The interface endpoints sit behind EndpointSecurityGroup, which admits nobody by itself:
the service stack lets its tasks' group in on 443 (edge.py), so who reaches the endpoints is
written where the tasks are.

Each endpoint's policy allows what the tasks do through it, on this account's resources only
(docs: "Create an endpoint policy for your Amazon ECR VPC endpoints", "Minimum Amazon S3
bucket permissions"): the ECR endpoints a pull of the service's repository (and the registry
token, which names no resource), the logs endpoint writes to the service stack's log group,
the S3 endpoint reads of ECR's layer bucket of the region. Every statement also requires a
principal of this account: a compromised task can use them neither with another account's
credentials, nor to upload to a bucket or log group of its own. The S3 gateway endpoint is
added with a NAT gateway too: S3 traffic then does not pay the NAT's per-GB charge.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import awacs.ecr as aecr
import awacs.logs as alogs
import awacs.s3 as as3
from awacs.aws import (
    Action,
    Allow,
    Condition,
    PolicyDocument,
    Principal,
    Statement,
    StringEquals,
)
from troposphere import AccountId, Join, Partition, Region, StackName, Tags, Template, ec2

from templates.declared import declare, outbound

ENDPOINT_SECURITY_GROUP = "EndpointSecurityGroup"
# Logical ID -> the endpoint service's name after com.amazonaws.<region>.
INTERFACE_ENDPOINTS = {
    "EcrApiEndpoint": "ecr.api",
    "EcrDockerEndpoint": "ecr.dkr",
    "LogsEndpoint": "logs",
}
ECR_PULL = [aecr.BatchCheckLayerAvailability, aecr.GetDownloadUrlForLayer, aecr.BatchGetImage]
LOGS_WRITE = [alogs.CreateLogStream, alogs.PutLogEvents]
S3_ENDPOINT = "S3GatewayEndpoint"
HTTPS = 443
# ICMP type 252 code 86 to the broadcast address: an egress rule that matches no packet.
NO_EGRESS_ICMP = (252, 86)
NO_EGRESS_PEER = "255.255.255.255/32"


def _service_name(service: str) -> Join:
    return Join("", ["com.amazonaws.", Region, f".{service}"])


@dataclass(frozen=True)
class TasksUse:
    """This account's resources the service's tasks reach through the endpoints (the network
    stack is created before the stacks that hold them, so by name)."""

    repository: str  # the ECR repository's name
    log_group_prefix: str  # the start of the service's log group name (CloudFormation's)


def _arn(service: str, resource: object) -> Join:
    return Join("", ["arn:", Partition, f":{service}:", Region, ":", AccountId, ":", resource])


def _allow(sid: str, actions: Sequence[Action], resources: list[object]) -> Statement:
    """An endpoint policy's statement: these actions on these resources, for this account's
    principals only (what each may do is its own IAM policy's business)."""
    return Statement(
        Sid=sid,
        Effect=Allow,
        Principal=Principal("*"),
        Action=list(actions),
        Resource=resources,
        Condition=Condition(StringEquals("aws:PrincipalAccount", AccountId)),
    )


def _policy(*statements: Statement) -> PolicyDocument:
    return PolicyDocument(Version="2012-10-17", Statement=list(statements))


def _ecr_pull(uses: TasksUse) -> PolicyDocument:
    return _policy(
        # GetAuthorizationToken supports no resource-level permission: "*" only.
        _allow("RegistryToken", [aecr.GetAuthorizationToken], ["*"]),
        _allow("PullServiceImage", ECR_PULL, [_arn("ecr", f"repository/{uses.repository}")]),
    )


def _logs_write(uses: TasksUse) -> PolicyDocument:
    # The log group's name is CloudFormation's (stack name, logical ID, a random suffix): the
    # prefix covers it and its streams (`log-group:NAME:log-stream:STREAM`).
    group = _arn("logs", f"log-group:{uses.log_group_prefix}*")
    return _policy(_allow("WriteServiceLogs", LOGS_WRITE, [group]))


def _ecr_layers_only() -> PolicyDocument:
    # The bucket is ECR's, in AWS's account: the principal is this account's.
    layers = Join("", ["arn:", Partition, ":s3:::prod-", Region, "-starport-layer-bucket/*"])
    return _policy(_allow("ReadEcrImageLayers", [as3.GetObject], [layers]))


def add_interface_endpoints(
    template: Template, vpc: ec2.VPC, subnets: Sequence[ec2.Subnet], uses: TasksUse
) -> ec2.SecurityGroup:
    """The interface endpoints in `subnets`, each allowing what the tasks do through it on
    `uses`, and their security group (no ingress of its own)."""
    group = template.add_resource(
        ec2.SecurityGroup(
            ENDPOINT_SECURITY_GROUP,
            GroupDescription="VPC interface endpoints: HTTPS from the service tasks only",
            VpcId=vpc.ref(),
            # Endpoints answer, they never connect: a rule that matches nothing replaces AWS's
            # default allow-all egress (the same device as the AWS CDK's allowAllOutbound=false).
            SecurityGroupEgress=[
                ec2.SecurityGroupRule(
                    IpProtocol="icmp",
                    FromPort=NO_EGRESS_ICMP[0],
                    ToPort=NO_EGRESS_ICMP[1],
                    CidrIp=NO_EGRESS_PEER,
                    Description="No egress",
                )
            ],
            Tags=Tags(Name=Join("-", [StackName, "endpoints"])),
        )
    )
    declare(
        group,
        outbound(
            NO_EGRESS_ICMP,
            NO_EGRESS_PEER,
            "no egress: a rule that matches nothing replaces the default allow-all",
            protocol="icmp",
        ),
    )
    policies = {"ecr.api": _ecr_pull(uses), "ecr.dkr": _ecr_pull(uses), "logs": _logs_write(uses)}
    for title, service in INTERFACE_ENDPOINTS.items():
        template.add_resource(
            ec2.VPCEndpoint(
                title,
                VpcId=vpc.ref(),
                ServiceName=_service_name(service),
                VpcEndpointType="Interface",
                PrivateDnsEnabled=True,
                SubnetIds=[subnet.ref() for subnet in subnets],
                SecurityGroupIds=[group.ref()],
                PolicyDocument=policies[service],
            )
        )
    return group


def add_s3_gateway_endpoint(
    template: Template, vpc: ec2.VPC, route_tables: Sequence[ec2.RouteTable]
) -> ec2.VPCEndpoint:
    endpoint: ec2.VPCEndpoint = template.add_resource(
        ec2.VPCEndpoint(
            S3_ENDPOINT,
            VpcId=vpc.ref(),
            ServiceName=_service_name("s3"),
            VpcEndpointType="Gateway",
            RouteTableIds=[table.ref() for table in route_tables],
            PolicyDocument=_ecr_layers_only(),
        )
    )
    return endpoint
