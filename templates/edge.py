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

from troposphere import If, Join, Output, Parameter, Ref, Template, certificatemanager, ec2, route53
from troposphere import elasticloadbalancingv2 as elbv2

from environments.model import DnsConfig, ServiceConfig
from environments.services import MAX_PRIORITY, PATH_PREFIX
from templates.access_logs import AccessLogs
from templates.declared import declare, inbound, outbound
from templates.imported import Environment as ImportedEnvironment
from templates.imported import Imported
from templates.parameters import (
    FIRST_CREATE,
    CreatedCertificate,
    EnvironmentParameters,
    GivenCertificate,
    ServiceParameters,
)
from templates.vpc_endpoints import HTTPS

# TLS 1.3 and 1.2 only, forward-secret ciphers.
TLS_POLICY = "ELBSecurityPolicy-TLS13-1-2-2021-06"
DEREGISTRATION_DELAY_SECONDS = 30
ANYWHERE = "0.0.0.0/0"
NO_TRAFFIC = "255.255.255.255/32"
# Two years, every subdomain: the value hstspreload.org asks for, without opting in to preload.
HSTS = "max-age=63072000; includeSubDomains"
HSTS_ATTRIBUTE = "routing.http.response.strict_transport_security.header_value"


@dataclass(frozen=True)
class LoadBalancing:
    """The environment stack's way in, shared by every service."""

    load_balancer: elbv2.LoadBalancer
    https_listener: elbv2.Listener
    security_group: ec2.SecurityGroup


# A service's place on the shared listener is given to its stack as parameters, filled by the
# deployer from the manifest, not written into the template: the templates of services
# configured alike are then the same bytes, which generate.py lints once (fifty services cost
# the lint of the few kinds they are), and which say "a service" rather than which one.
ROUTE_HOST, ROUTE_PATH, RULE_PRIORITY = "RouteHost", "RoutePath", "RulePriority"


@dataclass(frozen=True)
class RouteParameters:
    host: Parameter
    path: Parameter | None  # a route on a host alone has no path prefix
    priority: Parameter


def route_values(service: ServiceConfig) -> dict[str, str]:
    """What the deployer fills the route's parameters with (the manifest's parameters)."""
    values = {ROUTE_HOST: service.route.host, RULE_PRIORITY: str(service.priority)}
    if service.route.path is not None:
        values[ROUTE_PATH] = service.route.path
    return values


def add_route_parameters(template: Template, service: ServiceConfig) -> RouteParameters:
    """The route's parameters, constrained as environments/services.py checks the file, so that
    a value typed in the console is refused as the file's would be."""
    host = template.add_parameter(
        Parameter(ROUTE_HOST, Type="String", MinLength=1, Description="The host it answers on")
    )
    path = None
    if service.route.path is not None:
        path = template.add_parameter(
            Parameter(
                ROUTE_PATH,
                Type="String",
                AllowedPattern=PATH_PREFIX.pattern,
                Description='Its path prefix ("/api" routes /api and /api/...)',
            )
        )
    priority = template.add_parameter(
        Parameter(
            RULE_PRIORITY,
            Type="Number",
            MinValue=1,
            MaxValue=MAX_PRIORITY,
            Description="Its listener rule's priority (assigned by environments/services.py)",
        )
    )
    return RouteParameters(host=host, path=path, priority=priority)


@dataclass(frozen=True)
class Edge:
    """A service's way in: its rule on the shared HTTPS listener, its target group, the
    security group of its tasks (and the shared load balancer, for its metrics)."""

    load_balancer: Imported
    listener_rule: elbv2.ListenerRule
    target_group: elbv2.TargetGroup
    service_security_group: ec2.SecurityGroup
    route: RouteParameters


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


def add_load_balancer_security_group(template: Template, vpc_id: Parameter) -> ec2.SecurityGroup:
    """80 and 443 from anywhere; out, nothing of its own: each service stack adds the rule to
    its tasks' port (an AWS::EC2::SecurityGroupEgress on this group), so the group reaches the
    services of the environment and nothing else. AWS adds an allow-all egress rule to a group
    given none: the one rule given here matches no traffic (ICMP type 252, code 86, to
    255.255.255.255/32, as the CDK writes a group that allows no outbound traffic)."""
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
                ec2.SecurityGroupRule(
                    IpProtocol="icmp",
                    FromPort=252,
                    ToPort=86,
                    CidrIp=NO_TRAFFIC,
                    Description="Matches no traffic: the services' stacks add their ports",
                )
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
        outbound(
            (252, 86),
            NO_TRAFFIC,
            "matches no traffic (AWS's default allow-all stays off)",
            protocol="icmp",
        ),
    )
    return alb_sg


def _port_rule(
    template: Template, rule: ec2.SecurityGroupIngress | ec2.SecurityGroupEgress, port: int
) -> ec2.SecurityGroupIngress | ec2.SecurityGroupEgress:
    """A rule of its own (not inline) on one TCP port."""
    rule.IpProtocol, rule.FromPort, rule.ToPort = "tcp", port, port
    added: ec2.SecurityGroupIngress | ec2.SecurityGroupEgress = template.add_resource(rule)
    return added


def add_service_security_group(
    template: Template, params: ServiceParameters, load_balancer_group: Imported, port: int
) -> ec2.SecurityGroup:
    """The tasks' group: `port` from the load balancer only; out, 443 to what the placement
    needs. Every rule is explicit: a group given inline egress loses AWS's default allow-all."""
    endpoint_group, s3_prefix_list = params.endpoint_security_group_id, params.s3_prefix_list_id
    service_sg = template.add_resource(
        ec2.SecurityGroup(
            "ServiceSecurityGroup",
            GroupDescription=f"Service tasks: port {port} from the load balancer only",
            VpcId=params.vpc_id.ref(),
            SecurityGroupEgress=_task_egress(endpoint_group, s3_prefix_list),
        )
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
    # Rules of their own: the two groups name each other, and the load balancer's group is
    # the environment stack's.
    declare(
        _port_rule(
            template,
            ec2.SecurityGroupIngress(
                "ServiceFromLoadBalancerIngress",
                GroupId=service_sg.ref(),
                SourceSecurityGroupId=load_balancer_group.ref(),
                Description="From the load balancer",
            ),
            port,
        ),
        inbound(
            port, load_balancer_group.ref(), "the tasks take traffic from the load balancer only"
        ),
    )
    declare(
        _port_rule(
            template,
            ec2.SecurityGroupEgress(
                "LoadBalancerToServiceEgress",
                GroupId=load_balancer_group.ref(),
                DestinationSecurityGroupId=service_sg.ref(),
                Description="To this service's tasks",
            ),
            port,
        ),
        outbound(port, service_sg.ref(), "to the service tasks, on their port only"),
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
    return service_sg


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


def _deletion_protection(params: EnvironmentParameters) -> object:
    """Where the environment protects it (params.stack_exists is there), off on the stack's
    first create and on afterwards: a protected load balancer cannot be
    deleted, so a failed first create would end ROLLBACK_FAILED (the rollback cannot delete
    it) instead of ROLLBACK_COMPLETE, and the stack could only be deleted by hand. The update
    after a successful first create turns it on."""
    if params.stack_exists is None:
        return "false"
    return If(FIRST_CREATE, "false", "true")


def _record_title(host: str, dns: DnsConfig) -> str:
    """DnsRecord for dns.domain; DnsRecord<Label...> for the other hosts (stable per host)."""
    if host == dns.domain_name:
        return "DnsRecord"
    zone = dns.hosted_zone_name.rstrip(".")
    labels = host.removesuffix(f".{zone}").split(".") if host != zone else ["Apex"]
    return "DnsRecord" + "".join(part.capitalize() for label in labels for part in label.split("-"))


def add_load_balancer(
    template: Template,
    params: EnvironmentParameters,
    dns: DnsConfig,
    access_logs: AccessLogs,
    hosts: tuple[str, ...],
) -> LoadBalancing:
    """The shared load balancer: HTTP redirected to HTTPS, and an HTTPS listener whose default
    answer is a 404 (each service adds its rule); a record for each of the services' hosts."""
    alb_sg = add_load_balancer_security_group(template, params.vpc_id)
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
            # What no service's rule matches.
            DefaultActions=[
                elbv2.Action(
                    Type="fixed-response",
                    FixedResponseConfig=elbv2.FixedResponseConfig(
                        StatusCode="404", ContentType="text/plain", MessageBody="Not Found"
                    ),
                )
            ],
            ListenerAttributes=[elbv2.ListenerAttribute(Key=HSTS_ATTRIBUTE, Value=HSTS)],
        )
    )
    for host in sorted(set(hosts)):
        template.add_resource(
            route53.RecordSetType(
                _record_title(host, dns),
                HostedZoneId=params.hosted_zone_id.ref(),
                Name=host,
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
    return LoadBalancing(
        load_balancer=load_balancer, https_listener=https_listener, security_group=alb_sg
    )


def route_conditions(route: RouteParameters) -> list[elbv2.Condition]:
    """Host, and path prefix: "/api" matches /api and /api/... (ALB path patterns are
    case-sensitive; "*" matches any characters)."""
    conditions = [
        elbv2.Condition(
            Field="host-header", HostHeaderConfig=elbv2.HostHeaderConfig(Values=[route.host.ref()])
        )
    ]
    if route.path is not None:
        conditions.append(
            elbv2.Condition(
                Field="path-pattern",
                PathPatternConfig=elbv2.PathPatternConfig(
                    Values=[route.path.ref(), Join("", [route.path.ref(), "/*"])]
                ),
            )
        )
    return conditions


def add_route(
    template: Template,
    params: ServiceParameters,
    environment: ImportedEnvironment,
    service: ServiceConfig,
) -> Edge:
    """The service's target group, its rule on the shared HTTPS listener (its host and path, at
    its priority: environments/services.py), and its tasks' security group."""
    service_sg = add_service_security_group(
        template, params, environment.load_balancer_security_group, service.port
    )
    target_group = add_target_group(template, "TargetGroup", params, service)
    route = add_route_parameters(template, service)
    rule = template.add_resource(
        elbv2.ListenerRule(
            "ListenerRule",
            ListenerArn=environment.https_listener.ref(),
            Priority=route.priority.ref(),
            Conditions=route_conditions(route),
            Actions=[elbv2.ListenerRuleAction(Type="forward", TargetGroupArn=target_group.ref())],
        )
    )
    path = [] if route.path is None else [route.path.ref()]
    template.add_output(
        Output(
            "Url",
            Description="Where the service answers",
            Value=Join("", ["https://", route.host.ref(), *path, "/"]),
        )
    )
    return Edge(
        load_balancer=environment.load_balancer,
        listener_rule=rule,
        target_group=target_group,
        service_security_group=service_sg,
        route=route,
    )


def add_target_group(
    template: Template, title: str, params: ServiceParameters, service: ServiceConfig
) -> elbv2.TargetGroup:
    """The service's tasks behind the load balancer, checked on its health path. A progressive
    service has two, built here alike (templates/progressive.py): ECS moves the new revision
    between them."""
    target_group: elbv2.TargetGroup = template.add_resource(
        elbv2.TargetGroup(
            title,
            VpcId=params.vpc_id.ref(),
            Port=service.port,
            Protocol="HTTP",
            TargetType="ip",
            HealthCheckPath=service.health_path,
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
    return target_group
