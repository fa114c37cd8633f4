"""The way in: security groups, the load balancer, its listeners, the certificate and DNS.

Who reaches what:
- the internet reaches the load balancer on 80 (answered with a redirect only) and 443;
- the load balancer reaches the tasks on the service's port, and nothing else reaches them;
- the tasks reach, on 443 only: with private placement through endpoints, the VPC's interface
  endpoints (their security group) and S3 (its prefix list, through the gateway endpoint),
  nothing else; placed public, or private behind a NAT gateway, any address (declared as an
  accepted risk on their security group: ECR's and CloudWatch's addresses are not fixed).

HSTS comes from the HTTPS listener (routing.http.response.strict_transport_security): one
setting covers every HTTPS answer, the load balancer's own 4xx/5xx included, and the app
behind it, which sees plain HTTP from the load balancer, need not guess the scheme.
"""

from __future__ import annotations

from dataclasses import dataclass

from troposphere import If, Output, Parameter, Ref, Template, certificatemanager, ec2, route53
from troposphere import elasticloadbalancingv2 as elbv2

from environments.model import DnsConfig, Placement
from service import contract
from templates.access_logs import AccessLogs
from templates.declared import declare, inbound, outbound
from templates.parameters import (
    FIRST_CREATE,
    CreatedCertificate,
    GivenCertificate,
    ServiceParameters,
)
from templates.vpc_endpoints import HTTPS

# TLS 1.3 and 1.2 only, forward-secret ciphers.
TLS_POLICY = "ELBSecurityPolicy-TLS13-1-2-2021-06"
DEREGISTRATION_DELAY_SECONDS = 30
ANYWHERE = "0.0.0.0/0"
# Two years, every subdomain: the value hstspreload.org asks for, without opting in to preload.
HSTS = "max-age=63072000; includeSubDomains"
HSTS_ATTRIBUTE = "routing.http.response.strict_transport_security.header_value"


# checkov: the one check this module skips, on the load balancer's security group only.
@dataclass(frozen=True)
class Edge:
    load_balancer: elbv2.LoadBalancer
    https_listener: elbv2.Listener
    target_group: elbv2.TargetGroup
    service_security_group: ec2.SecurityGroup


def _rule(port: int, description: str, **peer: object) -> ec2.SecurityGroupRule:
    return ec2.SecurityGroupRule(
        IpProtocol="tcp", FromPort=port, ToPort=port, Description=description, **peer
    )


def _task_egress(
    endpoint_group: Parameter | None, s3_prefix_list: Parameter | None
) -> list[ec2.SecurityGroupRule]:
    if endpoint_group is None or s3_prefix_list is None:
        return [_rule(HTTPS, "HTTPS to ECR, CloudWatch Logs and S3", CidrIp=ANYWHERE)]
    return [
        _rule(
            HTTPS,
            "HTTPS to the VPC's interface endpoints (ECR, CloudWatch Logs)",
            DestinationSecurityGroupId=endpoint_group.ref(),
        ),
        _rule(
            HTTPS,
            "HTTPS to S3 through the gateway endpoint (ECR's image layers)",
            DestinationPrefixListId=s3_prefix_list.ref(),
        ),
    ]


def add_security_groups(
    template: Template, params: ServiceParameters, placement: Placement, port: int = contract.PORT
) -> tuple[ec2.SecurityGroup, ec2.SecurityGroup]:
    """Every rule is explicit: a group given inline egress loses AWS's default allow-all.
    `port`: the one the service's container listens on."""
    vpc_id, endpoint_group = params.vpc_id, params.endpoint_security_group_id
    s3_prefix_list = params.s3_prefix_list_id
    service_sg = template.add_resource(
        ec2.SecurityGroup(
            "ServiceSecurityGroup",
            GroupDescription=f"Service tasks: port {port} from the load balancer only",
            VpcId=vpc_id.ref(),
            SecurityGroupEgress=_task_egress(endpoint_group, s3_prefix_list),
        )
    )
    alb_sg = template.add_resource(
        ec2.SecurityGroup(
            "LoadBalancerSecurityGroup",
            GroupDescription="Load balancer: HTTP and HTTPS from the internet",
            VpcId=vpc_id.ref(),
            SecurityGroupIngress=[
                _rule(80, "HTTP from anywhere, redirected to HTTPS", CidrIp=ANYWHERE),
                _rule(HTTPS, "HTTPS from anywhere", CidrIp=ANYWHERE),
            ],
            SecurityGroupEgress=[
                _rule(
                    port,
                    "To the service tasks only",
                    DestinationSecurityGroupId=service_sg.ref(),
                ),
            ],
        )
    )
    declare(
        alb_sg,
        inbound(
            80,
            ANYWHERE,
            "the public load balancer: HTTP from anywhere, answered with a redirect to HTTPS only",
            checkov=("CKV_AWS_260",),
        ),
        inbound(443, ANYWHERE, "the public load balancer: HTTPS, the service's way in"),
        outbound(port, service_sg.ref(), "to the service tasks, on their port only"),
    )
    if endpoint_group is None or s3_prefix_list is None:
        declare(
            service_sg,
            outbound(
                HTTPS,
                ANYWHERE,
                "the tasks are placed public or behind a NAT gateway ([network] placement, "
                "egress): ECR, CloudWatch Logs and S3 answer on public addresses that are not "
                'fixed. Only 443 leaves; placement = "private" with egress = "endpoints" '
                "removes the route out",
            ),
        )
    else:
        declare(
            service_sg,
            outbound(HTTPS, endpoint_group.ref(), "the tasks reach ECR and Logs by endpoint"),
            outbound(HTTPS, s3_prefix_list.ref(), "the tasks pull image layers from S3"),
        )
    # A rule of its own: the two groups name each other, and inline rules both ways would be
    # a dependency cycle.
    from_load_balancer = template.add_resource(
        ec2.SecurityGroupIngress(
            "ServiceFromLoadBalancerIngress",
            GroupId=service_sg.ref(),
            IpProtocol="tcp",
            FromPort=port,
            ToPort=port,
            SourceSecurityGroupId=alb_sg.ref(),
            Description="From the load balancer",
        )
    )
    if endpoint_group is not None:
        # The endpoints' group (network stack, or the brought VPC's) admits this stack's tasks.
        to_endpoints = template.add_resource(
            ec2.SecurityGroupIngress(
                "EndpointsFromServiceIngress",
                GroupId=endpoint_group.ref(),
                IpProtocol="tcp",
                FromPort=HTTPS,
                ToPort=HTTPS,
                SourceSecurityGroupId=service_sg.ref(),
                Description="HTTPS from the service's tasks",
            )
        )
        declare(to_endpoints, inbound(HTTPS, service_sg.ref(), "the endpoints serve the tasks"))
    declare(
        from_load_balancer,
        inbound(port, alb_sg.ref(), "the tasks take traffic from the load balancer only"),
    )
    return alb_sg, service_sg


def add_dns_validated_certificate(
    template: Template, title: str, domain_name: str, hosted_zone_id: Parameter
) -> certificatemanager.Certificate:
    """An ACM certificate of the stack's region, validated by DNS in the hosted zone."""
    certificate: certificatemanager.Certificate = template.add_resource(
        certificatemanager.Certificate(
            title,
            DomainName=domain_name,
            ValidationMethod="DNS",
            DomainValidationOptions=[
                certificatemanager.DomainValidationOption(
                    DomainName=domain_name, HostedZoneId=hosted_zone_id.ref()
                )
            ],
        )
    )
    return certificate


def _certificate_arn(
    template: Template, dns: DnsConfig, source: GivenCertificate | CreatedCertificate
) -> Ref:
    """The environment's certificate (a parameter), or one created here and validated by DNS."""
    if isinstance(source, GivenCertificate):
        return source.parameter.ref()
    return add_dns_validated_certificate(
        template, "Certificate", dns.domain_name, source.hosted_zone_id
    ).ref()


def _deletion_protection(params: ServiceParameters) -> object:
    """Where the environment protects it (params.stack_exists is there), off on the stack's
    first create and on afterwards: a protected load balancer cannot be
    deleted, so a failed first create would end ROLLBACK_FAILED (the rollback cannot delete
    it) instead of ROLLBACK_COMPLETE, and the stack could only be deleted by hand. The update
    after a successful first create turns it on."""
    if params.stack_exists is None:
        return "false"
    return If(FIRST_CREATE, "false", "true")


def add_edge(
    template: Template,
    params: ServiceParameters,
    dns: DnsConfig,
    access_logs: AccessLogs,
    placement: Placement,
    port: int = contract.PORT,
    health_path: str = contract.HEALTH_PATH,
) -> Edge:
    """`port` and `health_path`: the service's ([services.<name>] port, health_path)."""
    vpc_id = params.vpc_id
    alb_sg, service_sg = add_security_groups(template, params, placement, port)
    load_balancer = template.add_resource(
        elbv2.LoadBalancer(
            "LoadBalancer",
            # ELB checks that it may write to the bucket when logging is turned on.
            DependsOn=[access_logs.policy],
            Type="application",
            Scheme="internet-facing",
            Subnets=params.subnet_ids.ref(),
            SecurityGroups=[alb_sg.ref()],
            LoadBalancerAttributes=[
                elbv2.LoadBalancerAttributes(
                    Key="routing.http.drop_invalid_header_fields.enabled", Value="true"
                ),
                elbv2.LoadBalancerAttributes(
                    Key="deletion_protection.enabled",
                    Value=_deletion_protection(params),
                ),
                elbv2.LoadBalancerAttributes(Key="access_logs.s3.enabled", Value="true"),
                elbv2.LoadBalancerAttributes(
                    Key="access_logs.s3.bucket", Value=access_logs.bucket.ref()
                ),
                elbv2.LoadBalancerAttributes(Key="access_logs.s3.prefix", Value=access_logs.prefix),
            ],
        )
    )
    target_group = template.add_resource(
        elbv2.TargetGroup(
            "TargetGroup",
            VpcId=vpc_id.ref(),
            Port=port,
            Protocol="HTTP",
            TargetType="ip",
            HealthCheckPath=health_path,
            HealthCheckProtocol="HTTP",
            HealthCheckIntervalSeconds=15,
            HealthCheckTimeoutSeconds=5,
            HealthyThresholdCount=2,
            UnhealthyThresholdCount=3,
            Matcher=elbv2.Matcher(HttpCode="200"),
            TargetGroupAttributes=[
                elbv2.TargetGroupAttribute(
                    Key="deregistration_delay.timeout_seconds",
                    Value=str(DEREGISTRATION_DELAY_SECONDS),
                )
            ],
        )
    )
    template.add_resource(
        elbv2.Listener(
            "HttpListener",
            LoadBalancerArn=load_balancer.ref(),
            Port=80,
            Protocol="HTTP",
            DefaultActions=[
                elbv2.Action(
                    Type="redirect",
                    RedirectConfig=elbv2.RedirectConfig(
                        Protocol="HTTPS", Port="443", StatusCode="HTTP_301"
                    ),
                )
            ],
        )
    )
    https_listener = template.add_resource(
        elbv2.Listener(
            "HttpsListener",
            LoadBalancerArn=load_balancer.ref(),
            Port=443,
            Protocol="HTTPS",
            SslPolicy=TLS_POLICY,
            Certificates=[
                elbv2.Certificate(
                    CertificateArn=_certificate_arn(template, dns, params.certificate)
                )
            ],
            DefaultActions=[elbv2.Action(Type="forward", TargetGroupArn=target_group.ref())],
            ListenerAttributes=[elbv2.ListenerAttribute(Key=HSTS_ATTRIBUTE, Value=HSTS)],
        )
    )
    template.add_resource(
        route53.RecordSetType(
            "DnsRecord",
            HostedZoneId=params.hosted_zone_id.ref(),
            Name=dns.domain_name,
            Type="A",
            AliasTarget=route53.AliasTarget(
                HostedZoneId=load_balancer.get_att("CanonicalHostedZoneID"),
                DNSName=load_balancer.get_att("DNSName"),
                EvaluateTargetHealth=True,
            ),
        )
    )
    template.add_output(
        Output(
            "LoadBalancerDnsName",
            Description="The load balancer's own name (before DNS, or in the emulator)",
            Value=load_balancer.get_att("DNSName"),
        )
    )
    template.add_output(
        Output("Url", Description="Where the service answers", Value=f"https://{dns.domain_name}/")
    )
    return Edge(
        load_balancer=load_balancer,
        https_listener=https_listener,
        target_group=target_group,
        service_security_group=service_sg,
    )
