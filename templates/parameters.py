"""The service stack's parameters: what it takes from other stacks and from the deployer.

Values cross stacks as parameters that the deployer fills from the upstream stacks' resources
(see generate.py's manifest), never through exports: moto gives no Outputs to stacks created
through change sets, and parameters work the same on AWS.
"""

from __future__ import annotations

from dataclasses import dataclass

from troposphere import Equals, Parameter, Template

from environments.model import IMAGE_TAG_PATTERN, PagerDutyConfig, Placement

# The condition true on the stack's first create only (StackExists, filled by the deployer).
FIRST_CREATE = "FirstCreate"
# The service stack's certificate parameter: generate.py lists it in the manifest as the one
# the deployer fills with the environment's certificate (given, or found at deploy time).
CERTIFICATE_ARN = "CertificateArn"


@dataclass(frozen=True)
class GivenCertificate:
    """The environment brings the certificate (names it, or the deployer finds it): the
    CertificateArn parameter, which the deployer fills with the manifest's certificate."""

    parameter: Parameter


@dataclass(frozen=True)
class CreatedCertificate:
    """The template creates the certificate, DNS-validated in the HostedZoneId parameter's zone."""

    hosted_zone_id: Parameter


@dataclass(frozen=True)
class EnvironmentParameters:
    """The environment stack's: where the load balancer goes, what it answers with, who is paged."""

    vpc_id: Parameter
    subnet_ids: Parameter  # the load balancer's public subnets
    pagerduty_url: Parameter
    hosted_zone_id: Parameter  # the domain's zone: its records, the certificate's validation
    certificate: GivenCertificate | CreatedCertificate
    # "true" once the stack exists (FIRST_CREATE is its "false"); only where the load
    # balancer is protected from deletion.
    stack_exists: Parameter | None = None


@dataclass(frozen=True)
class ServiceParameters:
    """A service stack's own (the environment stack's resources are templates/imported.py's)."""

    image_tag: Parameter
    repository_name: Parameter
    vpc_id: Parameter
    # The tasks' subnets: the public ones (SubnetIds), or the private ones (TaskSubnetIds).
    subnet_ids: Parameter
    static_url: Parameter | None  # only when the assets are behind the static stack's CDN
    # The interface endpoints' security group, which the tasks may reach (private placement
    # through endpoints only).
    endpoint_security_group_id: Parameter | None = None
    # The region's S3 prefix list, which the tasks may reach (through endpoints only).
    s3_prefix_list_id: Parameter | None = None

    @property
    def tasks_subnet_ids(self) -> Parameter:
        return self.subnet_ids


def add_vpc_parameter(template: Template) -> Parameter:
    parameter: Parameter = template.add_parameter(
        Parameter(
            "VpcId", Type="AWS::EC2::VPC::Id", Description="The VPC (network stack or configured)"
        )
    )
    return parameter


def _subnets(template: Template, title: str, which: str) -> Parameter:
    parameter: Parameter = template.add_parameter(
        Parameter(
            title,
            Type="List<AWS::EC2::Subnet::Id>",
            Description=f"{which}, in two availability zones",
        )
    )
    return parameter


def add_environment_stack_parameters(
    template: Template,
    pagerduty: PagerDutyConfig,
    certificate_given: bool,
    protect_load_balancer: bool = False,
) -> EnvironmentParameters:
    """`certificate_given`: the environment brings the certificate (False: the template
    creates one). `protect_load_balancer`: it is protected from deletion once the stack exists."""
    vpc_id = add_vpc_parameter(template)
    subnet_ids = _subnets(template, "SubnetIds", "The load balancer's two public subnets")
    pagerduty_url = template.add_parameter(_pagerduty_parameter(pagerduty))
    hosted_zone_id = add_hosted_zone_parameter(template)
    return EnvironmentParameters(
        vpc_id=vpc_id,
        subnet_ids=subnet_ids,
        pagerduty_url=pagerduty_url,
        hosted_zone_id=hosted_zone_id,
        certificate=_certificate_parameter(template, certificate_given, hosted_zone_id),
        stack_exists=add_stack_exists(template) if protect_load_balancer else None,
    )


def add_service_parameters(
    template: Template, cdn: bool, placement: Placement
) -> ServiceParameters:
    image_tag = template.add_parameter(
        Parameter(
            "ImageTag",
            Type="String",
            Description="Tag of the image in the repository: the git revision unless configured",
            AllowedPattern=IMAGE_TAG_PATTERN,
        )
    )
    repository_name = template.add_parameter(
        Parameter(
            "RepositoryName",
            Type="String",
            Description="The ECR repository (registry stack)",
            AllowedPattern=r"[a-z0-9][a-z0-9._/-]*",
        )
    )
    vpc_id = add_vpc_parameter(template)
    subnet_ids = (
        _subnets(template, "TaskSubnetIds", "The tasks' two private subnets")
        if placement.private
        else _subnets(template, "SubnetIds", "The tasks' two public subnets")
    )
    endpoint_security_group_id = (
        template.add_parameter(
            Parameter(
                "EndpointSecurityGroupId",
                Type="AWS::EC2::SecurityGroup::Id",
                Description="The security group of the VPC's interface endpoints",
            )
        )
        if placement.through_endpoints
        else None
    )
    s3_prefix_list_id = (
        template.add_parameter(
            Parameter(
                "S3PrefixListId",
                Type="String",
                Description="The region's S3 prefix list (com.amazonaws.<region>.s3), read by "
                "the deployer with ec2:DescribePrefixLists",
                AllowedPattern=r"pl-[0-9a-f]+",
            )
        )
        if placement.through_endpoints
        else None
    )
    static_url = (
        template.add_parameter(
            Parameter(
                "StaticUrl",
                Type="String",
                Description="Base URL of the static assets CDN (static stack), no trailing slash",
                AllowedPattern=r"https://[A-Za-z0-9.-]+",
            )
        )
        if cdn
        else None
    )
    return ServiceParameters(
        image_tag=image_tag,
        repository_name=repository_name,
        vpc_id=vpc_id,
        subnet_ids=subnet_ids,
        static_url=static_url,
        endpoint_security_group_id=endpoint_security_group_id,
        s3_prefix_list_id=s3_prefix_list_id,
    )


def add_stack_exists(template: Template) -> Parameter:
    """StackExists, which the deployer fills ("false" on the stack's first create, "true"
    afterwards), and the FIRST_CREATE condition on it."""
    parameter: Parameter = template.add_parameter(
        Parameter(
            "StackExists",
            Type="String",
            Description="Filled by the deployer: false on the stack's first create, else true",
            AllowedValues=["true", "false"],
        )
    )
    template.add_condition(FIRST_CREATE, Equals(parameter.ref(), "false"))
    return parameter


def _certificate_parameter(
    template: Template, given: bool, hosted_zone_id: Parameter
) -> GivenCertificate | CreatedCertificate:
    if not given:
        return CreatedCertificate(hosted_zone_id=hosted_zone_id)
    parameter = Parameter(
        CERTIFICATE_ARN,
        Type="String",
        Description="The ACM certificate of the HTTPS listener",
        AllowedPattern=r"arn:aws[a-z-]*:acm:[a-z0-9-]+:[0-9]{12}:certificate/[0-9a-f-]+",
    )
    return GivenCertificate(parameter=template.add_parameter(parameter))


def add_hosted_zone_parameter(template: Template) -> Parameter:
    """The ID of the environment's hosted zone, which the deployer looks up by name. Records
    name their zone by this ID: by name (HostedZoneName), a zone name shared by a public and a
    private zone, or by two zones, is ambiguous."""
    parameter: Parameter = template.add_parameter(
        Parameter(
            "HostedZoneId",
            Type="AWS::Route53::HostedZone::Id",
            Description="The domain's hosted zone: its records, the certificate's DNS validation",
        )
    )
    return parameter


def _pagerduty_parameter(pagerduty: PagerDutyConfig) -> Parameter:
    if pagerduty.ssm_parameter is not None:
        # CloudFormation reads the SSM parameter itself when the stack is created or updated.
        return Parameter(
            "PagerDutyUrl",
            Type="AWS::SSM::Parameter::Value<String>",
            Default=pagerduty.ssm_parameter,
            Description="Name of the SSM parameter holding PagerDuty's integration URL",
        )
    return Parameter(
        "PagerDutyUrl",
        Type="String",
        NoEcho=True,
        Description="PagerDuty's integration URL, given by the deployer from its environment",
    )
