"""How tasks in private subnets reach AWS without a way out of the VPC.

Interface endpoints for ecr.api (the registry token, the image manifest), ecr.dkr (the image
pull) and logs (the awslogs driver), in the private subnets, with private DNS so that the
usual service names resolve to them; a gateway endpoint for S3, where ECR keeps the image
layers. The interface endpoints sit behind EndpointSecurityGroup, which admits nobody by itself:
the service stack lets its tasks' group in on 443 (edge.py), so who reaches the endpoints is
written where the tasks are.

The interface endpoints' policy admits this account's principals only, and the S3 endpoint's
only reads of ECR's layer bucket of the region (docs: Amazon ECR interface VPC endpoints,
"Minimum Amazon S3 bucket permissions"): a compromised task cannot use them with another
account's credentials, nor upload to a bucket of its own. The S3 gateway endpoint is added
with a NAT gateway too: S3 traffic then does not pay the NAT's per-GB charge.
"""

from __future__ import annotations

from collections.abc import Sequence

import awacs.s3 as as3
from awacs.aws import Action, Allow, Condition, PolicyDocument, Principal, Statement, StringEquals
from troposphere import AccountId, Join, Partition, Region, StackName, Tags, Template, ec2

from templates.declared import declare, outbound

ENDPOINT_SECURITY_GROUP = "EndpointSecurityGroup"
# Logical ID -> the endpoint service's name after com.amazonaws.<region>.
INTERFACE_ENDPOINTS = {
    "EcrApiEndpoint": "ecr.api",
    "EcrDockerEndpoint": "ecr.dkr",
    "LogsEndpoint": "logs",
}
S3_ENDPOINT = "S3GatewayEndpoint"
HTTPS = 443
# ICMP type 252 code 86 to the broadcast address: an egress rule that matches no packet.
NO_EGRESS_ICMP = (252, 86)
NO_EGRESS_PEER = "255.255.255.255/32"


def _service_name(service: str) -> Join:
    return Join("", ["com.amazonaws.", Region, f".{service}"])


def _this_account_only() -> PolicyDocument:
    return PolicyDocument(
        Version="2012-10-17",
        Statement=[
            Statement(
                Sid="ThisAccountsPrincipalsOnly",
                Effect=Allow,
                Principal=Principal("*"),
                # What each principal may do is its own IAM policy's business; the endpoint
                # only refuses principals of other accounts.
                Action=[Action("*")],
                Resource=["*"],
                Condition=Condition(StringEquals("aws:PrincipalAccount", AccountId)),
            )
        ],
    )


def _ecr_layers_only() -> PolicyDocument:
    layers = Join("", ["arn:", Partition, ":s3:::prod-", Region, "-starport-layer-bucket/*"])
    return PolicyDocument(
        Version="2012-10-17",
        Statement=[
            Statement(
                Sid="ReadEcrImageLayers",
                Effect=Allow,
                Principal=Principal("*"),
                Action=[as3.GetObject],
                Resource=[layers],
            )
        ],
    )


def add_interface_endpoints(
    template: Template, vpc: ec2.VPC, subnets: Sequence[ec2.Subnet]
) -> ec2.SecurityGroup:
    """The interface endpoints in `subnets`, and their security group (no ingress of its own)."""
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
                PolicyDocument=_this_account_only(),
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
