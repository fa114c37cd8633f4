"""What the account must have before any change set (deployer.preflight.prerequisites): the
certificate (given, or found by domain), the hosted zone, the SSM parameters CloudFormation
reads, a brought VPC and its subnets. Each missing or wrong thing is reported with its fix, all
of them at once, and only for the stacks being deployed.

Against moto over HTTP (certificates imported or requested through the public API; moto marks
an imported certificate EXPIRED once its end passes, and keeps a requested one
PENDING_VALIDATION for a minute); a Stubber stands in only for AccessDenied.
"""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import boto3
import botocore.session
import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber
from test_deploy_params import imported_certificate

from deployer.errors import PreflightError
from deployer.manifest import Certificate, Manifest, StackSpec, Subnet, Vpc
from deployer.preflight import prerequisites

DOMAIN = "local.example.com"
ZONE = "example.com."
PAGERDUTY = "/scalable-app/local/pagerduty-url"
SOURCE = "environments/local.toml"


class Clients:
    """The `client` callable, recording which services were asked for."""

    def __init__(self) -> None:
        self.made: list[str] = []

    def __call__(self, service: str) -> Any:
        self.made.append(service)
        return boto3.client(service)


def _manifest(
    tmp_path: Path,
    *,
    certificate: Certificate | None = None,
    vpc: Vpc | None = None,
    ssm: dict[str, str] | None = None,
) -> Manifest:
    """A registry stack that needs nothing, and a service stack that needs it all."""
    registry = StackSpec("registry", "test-registry", tmp_path / "registry.json")
    service = StackSpec(
        "service",
        "test-service",
        tmp_path / "service.json",
        depends_on=("registry",),
        parameters_from_certificate=("CertificateArn",) if certificate else (),
        prerequisites=("hosted_zone", "ssm_parameters", *(("vpc",) if vpc else ())),
    )
    return Manifest(
        path=tmp_path / "manifest.json",
        environment="local",
        source=SOURCE,
        region="us-east-1",
        termination_protection=False,
        services=(),
        hosted_zone_name=ZONE,
        ssm_parameters={PAGERDUTY: "PagerDuty integration URL"} if ssm is None else ssm,
        stacks=(registry, service),
        certificate=certificate,
        vpc=vpc,
    )


def _account(zone: bool = True, ssm: bool = True) -> None:
    """What bootstrap (or a real account) has: the hosted zone and the SSM parameter."""
    if zone:
        boto3.client("route53").create_hosted_zone(Name=ZONE, CallerReference="test")
    if ssm:
        boto3.client("ssm").put_parameter(Name=PAGERDUTY, Value="https://x.test", Type="String")


def _problems(manifest: Manifest, specs: list[StackSpec] | None = None) -> str:
    with pytest.raises(PreflightError) as caught:
        prerequisites(boto3.client, manifest, list(manifest.stacks) if specs is None else specs)
    message = str(caught.value)
    assert message.startswith("the account lacks what the stacks need (nothing was changed):")
    return message


def test_everything_present_is_listed(aws: dict[str, str], tmp_path: Path) -> None:
    _account()
    arn = imported_certificate(boto3.client("acm"), DOMAIN)
    manifest = _manifest(tmp_path, certificate=Certificate(DOMAIN, None))
    lines = prerequisites(boto3.client, manifest, list(manifest.stacks))
    (zone,) = boto3.client("route53").list_hosted_zones()["HostedZones"]
    assert lines == [
        f"certificate {arn} ISSUED for {DOMAIN} (found by its domain)",
        f"hosted zone {ZONE} ({zone['Id'].rsplit('/', 1)[-1]})",
        f"SSM parameter {PAGERDUTY}",
    ]
    given = _manifest(tmp_path, certificate=Certificate(DOMAIN, arn))
    assert prerequisites(boto3.client, given, list(given.stacks))[0] == (
        f"certificate {arn} ISSUED for {DOMAIN}"
    )


def test_every_problem_is_reported_at_once(aws: dict[str, str], tmp_path: Path) -> None:
    message = _problems(_manifest(tmp_path, certificate=Certificate(DOMAIN, None)))
    problems = message.splitlines()[1:]
    assert len(problems) == 3
    assert problems[0].startswith(f"  - no ISSUED ACM certificate in us-east-1 covers {DOMAIN}")
    assert f"or set [tls] certificate_arn or create_certificate = true in {SOURCE}" in problems[0]
    assert problems[1].startswith(f"  - hosted zone {ZONE} does not exist in this account")
    assert f"aws route53 create-hosted-zone --name {ZONE}" in problems[1]
    assert problems[2].startswith(f"  - SSM parameter {PAGERDUTY} (PagerDuty integration URL)")


def test_only_what_the_chosen_stacks_need_is_checked(aws: dict[str, str], tmp_path: Path) -> None:
    manifest = _manifest(tmp_path, certificate=Certificate(DOMAIN, None))  # nothing exists
    clients = Clients()
    assert prerequisites(clients, manifest, [manifest.stack("registry")]) == []
    assert clients.made == []  # not even a client made
    with pytest.raises(PreflightError):
        prerequisites(clients, manifest, [manifest.stack("service")])
    assert clients.made == ["acm", "route53", "ssm"]


def test_a_certificate_only_where_a_chosen_stack_takes_one(
    aws: dict[str, str], tmp_path: Path
) -> None:
    _account()
    manifest = _manifest(tmp_path, certificate=None)  # the service stack creates its own
    clients = Clients()
    assert [line.split()[0] for line in prerequisites(clients, manifest, [manifest.stacks[1]])] == [
        "hosted",
        "SSM",
    ]
    assert "acm" not in clients.made


# ---- a given certificate -----------------------------------------------------------------


def test_given_certificate_that_does_not_exist(aws: dict[str, str], tmp_path: Path) -> None:
    _account()
    arn = "arn:aws:acm:us-east-1:123456789012:certificate/00000000-0000-0000-0000-000000000000"
    message = _problems(_manifest(tmp_path, certificate=Certificate(DOMAIN, arn)))
    assert f"certificate {arn} does not exist in this account's us-east-1" in message
    assert f"fix [tls] certificate_arn in {SOURCE}" in message
    assert f"aws acm request-certificate --region us-east-1 --domain-name {DOMAIN}" in message


def test_given_certificate_pending_validation(aws: dict[str, str], tmp_path: Path) -> None:
    _account()
    acm = boto3.client("acm")
    arn = acm.request_certificate(DomainName=DOMAIN, ValidationMethod="DNS")["CertificateArn"]
    assert acm.describe_certificate(CertificateArn=arn)["Certificate"]["Status"] == (
        "PENDING_VALIDATION"
    )
    message = _problems(_manifest(tmp_path, certificate=Certificate(DOMAIN, arn)))
    assert f"certificate {arn} is PENDING_VALIDATION, not ISSUED: add the DNS validation" in (
        message
    )
    assert f"aws acm describe-certificate --certificate-arn {arn}" in message


def test_given_certificate_expired(aws: dict[str, str], tmp_path: Path) -> None:
    _account()
    acm = boto3.client("acm")
    arn = imported_certificate(acm, DOMAIN, valid=timedelta(seconds=2))
    deadline = time.monotonic() + 5
    while acm.describe_certificate(CertificateArn=arn)["Certificate"]["Status"] != "EXPIRED":
        assert time.monotonic() < deadline, "moto did not expire the certificate"
        time.sleep(0.2)
    message = _problems(_manifest(tmp_path, certificate=Certificate(DOMAIN, arn)))
    assert f"certificate {arn} is EXPIRED, not ISSUED: renew it, or import a new one" in message
    # And an expired certificate is not one that is found by domain.
    found = _problems(_manifest(tmp_path, certificate=Certificate(DOMAIN, None)))
    assert f"no ISSUED ACM certificate in us-east-1 covers {DOMAIN}" in found


def test_given_certificate_for_another_domain(aws: dict[str, str], tmp_path: Path) -> None:
    _account()
    arn = imported_certificate(boto3.client("acm"), "www.example.org", "*.b.example.com")
    message = _problems(_manifest(tmp_path, certificate=Certificate(DOMAIN, arn)))
    assert f"certificate {arn} covers www.example.org, *.b.example.com, not {DOMAIN}" in message
    assert f"use one that covers it in [tls] certificate_arn in {SOURCE}" in message


def test_given_certificate_of_another_region(aws: dict[str, str], tmp_path: Path) -> None:
    _account()
    arn = imported_certificate(boto3.client("acm", region_name="us-west-2"), DOMAIN)
    message = _problems(_manifest(tmp_path, certificate=Certificate(DOMAIN, arn)))
    assert f"certificate {arn} is in us-west-2, and a load balancer in us-east-1" in message
    assert f"put a certificate of us-east-1 in [tls] certificate_arn in {SOURCE}" in message


# ---- the hosted zone, the SSM parameters -------------------------------------------------


def test_hosted_zone_missing(aws: dict[str, str], tmp_path: Path) -> None:
    _account(zone=False)
    boto3.client("route53").create_hosted_zone(Name="example.org.", CallerReference="other")
    message = _problems(_manifest(tmp_path))
    assert message.splitlines()[1:] == [
        f"  - hosted zone {ZONE} does not exist in this account: create it (aws route53 "
        f"create-hosted-zone --name {ZONE} --caller-reference $(date +%s)) and delegate the "
        f"domain to it, or fix [dns] hosted_zone in {SOURCE}"
    ]


def test_ssm_parameter_missing(aws: dict[str, str], tmp_path: Path) -> None:
    _account(ssm=False)
    message = _problems(_manifest(tmp_path))
    assert message.splitlines()[1:] == [
        f"  - SSM parameter {PAGERDUTY} (PagerDuty integration URL) does not exist in "
        f"us-east-1: put it: aws ssm put-parameter --region us-east-1 --name {PAGERDUTY} "
        "--type String --value '<PagerDuty integration URL>'"
    ]


def test_ssm_parameter_that_cloudformation_cannot_read(aws: dict[str, str], tmp_path: Path) -> None:
    _account(ssm=False)
    boto3.client("ssm").put_parameter(Name=PAGERDUTY, Value="https://x.test", Type="SecureString")
    message = _problems(_manifest(tmp_path))
    assert f"SSM parameter {PAGERDUTY} is a SecureString" in message
    assert "--type String --value '<PagerDuty integration URL>' --overwrite" in message


# ---- a brought VPC -----------------------------------------------------------------------


def _network() -> tuple[str, list[str]]:
    """A VPC with two subnets in us-east-1a and us-east-1b; their IDs."""
    ec2 = boto3.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.1.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=cidr, AvailabilityZone=zone)["Subnet"]["SubnetId"]
        for cidr, zone in (("10.1.0.0/24", "us-east-1a"), ("10.1.1.0/24", "us-east-1b"))
    ]
    return vpc, subnets


def _brought(vpc: str, subnets: list[str], zones: tuple[str, ...] = ("a", "b")) -> Vpc:
    return Vpc(vpc, tuple(Subnet(s, f"us-east-1{z}") for s, z in zip(subnets, zones, strict=True)))


def test_brought_vpc_and_subnets_that_exist(aws: dict[str, str], tmp_path: Path) -> None:
    _account()
    vpc, subnets = _network()
    manifest = _manifest(tmp_path, vpc=_brought(vpc, subnets))
    assert prerequisites(boto3.client, manifest, [manifest.stacks[1]])[-1] == (
        f"VPC {vpc}, subnets {subnets[0]} (us-east-1a), {subnets[1]} (us-east-1b)"
    )


def test_brought_vpc_missing_and_its_subnets(aws: dict[str, str], tmp_path: Path) -> None:
    _account()
    gone = ["subnet-0123456789abcdef0", "subnet-0fedcba9876543210"]
    message = _problems(_manifest(tmp_path, vpc=_brought("vpc-0123456789abcdef0", gone)))
    assert message.splitlines()[1:] == [
        "  - VPC vpc-0123456789abcdef0 does not exist in us-east-1: fix [network] vpc_id in "
        f"{SOURCE}, or let the network stack create one ([network] cidr instead)",
        f"  - subnet {gone[0]} does not exist in us-east-1: fix [network] subnets in {SOURCE}",
        f"  - subnet {gone[1]} does not exist in us-east-1: fix [network] subnets in {SOURCE}",
    ]


def test_subnet_of_another_vpc(aws: dict[str, str], tmp_path: Path) -> None:
    _account()
    vpc, subnets = _network()
    other = boto3.client("ec2").create_vpc(CidrBlock="10.2.0.0/16")["Vpc"]["VpcId"]
    message = _problems(_manifest(tmp_path, vpc=_brought(other, subnets)))
    assert f"subnet {subnets[0]} is in VPC {vpc}, not {other}: give subnets of {other}" in message
    assert len(message.splitlines()) == 3  # one line per subnet; the VPC itself exists


def test_subnet_in_another_zone_than_configured(aws: dict[str, str], tmp_path: Path) -> None:
    _account()
    vpc, subnets = _network()
    message = _problems(_manifest(tmp_path, vpc=_brought(vpc, subnets, ("a", "c"))))
    assert message.splitlines()[1:] == [
        f"  - subnet {subnets[1]} is in us-east-1b, not us-east-1c: fix its availability_zone "
        f"in {SOURCE}"
    ]


# ---- errors that are not "missing" -------------------------------------------------------


def _denied(service: str, operation: str) -> tuple[Any, Stubber]:
    client = botocore.session.get_session().create_client(
        service, region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    stubber = Stubber(client)
    stubber.add_client_error(operation, "AccessDeniedException", "not authorized", 400)
    stubber.activate()
    return client, stubber


@pytest.mark.parametrize(
    ("service", "operation", "certificate"),
    [
        (
            "acm",
            "describe_certificate",
            Certificate(DOMAIN, "arn:aws:acm:us-east-1:1:certificate/x"),
        ),
        ("acm", "list_certificates", Certificate(DOMAIN, None)),
        ("ssm", "get_parameter", None),
    ],
)
def test_access_denied_is_not_reported_as_missing(
    aws: dict[str, str], tmp_path: Path, service: str, operation: str, certificate: Any
) -> None:
    """Stands in for AWS: moto authorizes every call. A denied read says nothing about whether
    the thing exists, so it propagates (deploy.py reports it) instead of a wrong "put it"."""
    _account()
    denied, stubber = _denied(service, operation)
    manifest = _manifest(tmp_path, certificate=certificate)
    with pytest.raises(ClientError) as caught:
        prerequisites(
            lambda s: denied if s == service else boto3.client(s), manifest, [manifest.stacks[1]]
        )
    assert caught.value.response["Error"]["Code"] == "AccessDeniedException"
    stubber.assert_no_pending_responses()
