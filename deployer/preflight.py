"""Checks before any change set: credentials resolve, what the account must already have
(certificate, hosted zone, SSM parameters, a brought VPC), what state the stack is in, whether
the image to run exists. Each raises PreflightError with what to do, or returns what it found."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from deployer import parallel
from deployer.errors import PreflightError
from deployer.manifest import HOSTED_ZONE, SSM_PARAMETERS, VPC, Certificate, Manifest, StackSpec
from deployer.params import certificate_names, covers, find_certificate, find_hosted_zone
from deployer.params import no_certificate as no_certificate_found
from deployer.status import error_code

CREDENTIALS_HINT = (
    "Set AWS_PROFILE (or the AWS_* variables), or log in again if they expired "
    "(aws sso login), and try again."
)


def credentials_problem(region: str, error: Exception | None = None) -> str:
    """The one wording for credentials that are missing (`error` None) or do not work, said
    alike by push, plan, deploy and status."""
    if error is None:
        return (
            f"no AWS credentials found for region {region} (none in the environment, the "
            f"shared config and credentials files, or an instance or container role). "
            f"{CREDENTIALS_HINT}"
        )
    detail = str(error).strip()
    return f"AWS credentials did not work for region {region}: {detail}. {CREDENTIALS_HINT}"


def credentials(session: Any, region: str) -> str:
    """Credentials resolve, through botocore's own chain (environment, profile, SSO, container
    or instance role), with no round trip of ours; returns where they came from.

    Whether AWS accepts them shows on the first CloudFormation call, a read (DescribeStacks)
    made before any change; `deploy.main` reports a rejection as a credentials error
    (`status.is_credentials_error`). The account is read from the stacks' ARNs."""
    from botocore.exceptions import BotoCoreError

    try:
        found = session.get_credentials()
    except BotoCoreError as error:
        raise PreflightError(credentials_problem(region, error)) from None
    if found is None:
        raise PreflightError(credentials_problem(region))
    profile = session.profile
    return f"profile {profile}, {found.method}" if profile else found.method


def caller_account(sts: Any, region: str) -> str:
    """The credentials' account (STS GetCallerIdentity): asked only where no stack ARN tells
    it yet and it is needed (the template bucket of a stack not created yet)."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        found = sts.get_caller_identity()
    except (BotoCoreError, ClientError) as error:
        raise PreflightError(credentials_problem(region, error)) from None
    return found["Account"]


def account_of(arn: str) -> str:
    """The account in an ARN (arn:partition:service:region:account:...)."""
    return arn.split(":")[4]


def delete_stack(cf: Any, stack: dict[str, Any]) -> None:
    cf.delete_stack(StackName=stack["StackId"])


IMAGE_PRESENT, TAG_MISSING, REPOSITORY_MISSING = "present", "tag missing", "repository missing"


def image_state(ecr: Any, repository: str, tag: str) -> str:
    """IMAGE_PRESENT, TAG_MISSING (push it), or REPOSITORY_MISSING (deploy the registry)."""
    from botocore.exceptions import ClientError

    try:
        ecr.describe_images(repositoryName=repository, imageIds=[{"imageTag": tag}])
    except ClientError as error:
        code = error_code(error)
        if code == "ImageNotFoundException":
            return TAG_MISSING
        if code == "RepositoryNotFoundException":
            return REPOSITORY_MISSING
        raise
    return IMAGE_PRESENT


def image_exists(ecr: Any, repository: str, tag: str) -> None:
    """The tag the service will run is in ECR: a missing image hangs an ECS deploy for hours."""
    state = image_state(ecr, repository, tag)
    if state == TAG_MISSING:
        raise PreflightError(
            f"image {repository}:{tag} is not in ECR: push it first (make push ENV=...)"
        )
    if state == REPOSITORY_MISSING:
        raise PreflightError(
            f"ECR repository {repository} does not exist: deploy the registry stack and "
            f"push {repository}:{tag} first"
        )


# ---- what the account must already have ------------------------------------------------


CERTIFICATE = "certificate"  # needed by the stacks with parameters_from_certificate


@dataclass
class Findings:
    """What the prerequisite checks found: a line per thing present, a line per problem."""

    found: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def prerequisites(
    client: Callable[[str], Any], manifest: Manifest, specs: Sequence[StackSpec]
) -> list[str]:
    """Check that the account has what the chosen stacks need before any change set: their
    certificate, the hosted zone, the SSM parameters CloudFormation reads, the brought VPC and
    its subnets. Returns a line per thing found; raises PreflightError naming every problem,
    each with its fix. AWS errors other than "not found" (AccessDenied...) propagate.
    `client(service)` makes a client only for what is checked. The checks are independent
    reads of different services: made side by side, their lines kept in this order."""
    needs = {need for spec in specs for need in _needs(spec)}
    checks: list[Callable[[Findings], None]] = []
    wanted = manifest.certificate
    if CERTIFICATE in needs and wanted is not None:
        checks.append(lambda found: certificate(client("acm"), manifest, wanted, found))
    zone = manifest.hosted_zone_name
    if HOSTED_ZONE in needs and zone:
        checks.append(lambda found: hosted_zone(client("route53"), manifest, zone, found))
    if SSM_PARAMETERS in needs and manifest.ssm_parameters:
        checks.append(lambda found: ssm_parameters(client("ssm"), manifest, found))
    if VPC in needs and manifest.vpc is not None:
        checks.append(lambda found: vpc(client("ec2"), manifest, found))
    each = [Findings() for _ in checks]
    # an AWS error (AccessDenied...): the first, in this order
    parallel.each(
        [partial(check, found) for check, found in zip(checks, each, strict=True)], "prerequisites"
    )
    findings = Findings(
        [line for found in each for line in found.found],
        [problem for found in each for problem in found.problems],
    )
    if findings.problems:
        raise PreflightError(
            "the account lacks what the stacks need (nothing was changed):\n"
            + "\n".join(f"  - {problem}" for problem in findings.problems)
        )
    return findings.found


def _needs(spec: StackSpec) -> set[str]:
    needs = set(spec.prerequisites)
    if spec.parameters_from_hosted_zone:
        needs.add(HOSTED_ZONE)
    if spec.takes_certificate:
        needs.add(CERTIFICATE)
    return needs


def _where(manifest: Manifest) -> str:
    return manifest.source or "the environment file"


def certificate(acm: Any, manifest: Manifest, wanted: Certificate, findings: Findings) -> None:
    if wanted.arn is None:
        found = find_certificate(acm, wanted.domain)
        if found is None:
            findings.problems.append(no_certificate_found(manifest, wanted))
        else:
            findings.found.append(
                f"certificate {found.arn} ISSUED for {wanted.domain} (found by its domain)"
            )
        return
    problem = given_certificate(acm, manifest, wanted.arn, wanted.domain)
    if problem:
        findings.problems.append(problem)
    else:
        findings.found.append(f"certificate {wanted.arn} ISSUED for {wanted.domain}")


# What to do about a certificate in each status but ISSUED (ACM's statuses).
CERTIFICATE_FIXES = {
    "PENDING_VALIDATION": (
        "add the DNS validation record ACM asks for (aws acm describe-certificate "
        "--certificate-arn {arn} --query Certificate.DomainValidationOptions) to the zone and "
        "wait until it is ISSUED"
    ),
    "EXPIRED": "renew it, or import a new one, and put its ARN in [tls] certificate_arn",
    "VALIDATION_TIMED_OUT": "request a new one and validate it within 72 hours",
}
DEFAULT_CERTIFICATE_FIX = "request or import a new one and put its ARN in [tls] certificate_arn"


def given_certificate(acm: Any, manifest: Manifest, arn: str, domain: str) -> str | None:
    """The problem with the environment's certificate ARN, or None: it exists in the stacks'
    region, is ISSUED and covers the domain."""
    from botocore.exceptions import ClientError

    where = _where(manifest)
    arn_region = arn.split(":")[3] if arn.count(":") >= 5 else "?"
    if arn_region != manifest.region:
        return (
            f"certificate {arn} is in {arn_region}, and a load balancer in {manifest.region} "
            f"takes one from its own region: put a certificate of {manifest.region} in "
            f"[tls] certificate_arn in {where}"
        )
    try:
        detail = acm.describe_certificate(CertificateArn=arn)["Certificate"]
    except ClientError as error:
        if error_code(error) != "ResourceNotFoundException":
            raise
        return (
            f"certificate {arn} does not exist in this account's {manifest.region}: fix [tls] "
            f"certificate_arn in {where}, or request or import one (aws acm request-certificate "
            f"--region {manifest.region} --domain-name {domain} --validation-method DNS)"
        )
    status = detail["Status"]
    if status != "ISSUED":
        fix = CERTIFICATE_FIXES.get(status, DEFAULT_CERTIFICATE_FIX).format(arn=arn)
        return f"certificate {arn} is {status}, not ISSUED: {fix}"
    names = certificate_names(detail)
    if not any(covers(name, domain) for name in names):
        return (
            f"certificate {arn} covers {', '.join(names)}, not {domain}: use one that covers "
            f"it in [tls] certificate_arn in {where}"
        )
    return None


def hosted_zone(route53: Any, manifest: Manifest, name: str, findings: Findings) -> None:
    zone_id = find_hosted_zone(route53, name)
    if zone_id is not None:
        findings.found.append(f"hosted zone {name} ({zone_id})")
        return
    findings.problems.append(
        f"hosted zone {name} does not exist in this account: create it (aws route53 "
        f"create-hosted-zone --name {name} --caller-reference $(date +%s)) and delegate the "
        f"domain to it, or fix [dns] hosted_zone in {_where(manifest)}"
    )


def ssm_parameters(ssm: Any, manifest: Manifest, findings: Findings) -> None:
    """Each parameter exists as a String: CloudFormation reads it into a String parameter
    (AWS::SSM::Parameter::Value<String> takes no SecureString)."""
    from botocore.exceptions import ClientError

    region = manifest.region
    for name, what in manifest.ssm_parameters.items():
        put = (
            f"aws ssm put-parameter --region {region} --name {name} --type String "
            f"--value '<{what}>'"
        )
        try:
            kind = ssm.get_parameter(Name=name)["Parameter"]["Type"]
        except ClientError as error:
            if error_code(error) != "ParameterNotFound":
                raise
            findings.problems.append(
                f"SSM parameter {name} ({what}) does not exist in {region}: put it: {put}"
            )
            continue
        if kind != "String":
            findings.problems.append(
                f"SSM parameter {name} is a {kind}, and CloudFormation reads only a String "
                f"into the stack: put it again as a String: {put} --overwrite"
            )
        else:
            findings.found.append(f"SSM parameter {name}")


def vpc(ec2: Any, manifest: Manifest, findings: Findings) -> None:
    """The brought VPC exists, and each subnet is in it and in its configured zone. Looked up
    with filters, which return what exists (IDs asked for by name fail the whole call at the
    first missing one), so every missing one is reported."""
    assert manifest.vpc is not None
    brought, where, region = manifest.vpc, _where(manifest), manifest.region
    problems = []
    if not ec2.describe_vpcs(Filters=[{"Name": "vpc-id", "Values": [brought.id]}])["Vpcs"]:
        problems.append(
            f"VPC {brought.id} does not exist in {region}: fix [network] vpc_id in {where}, "
            "or let the network stack create one ([network] cidr instead)"
        )
    subnets = _subnets(ec2, [s.id for s in brought.subnets])
    for subnet in brought.subnets:
        found = subnets.get(subnet.id)
        if found is None:
            problems.append(
                f"subnet {subnet.id} does not exist in {region}: fix [network] subnets in {where}"
            )
        elif found["VpcId"] != brought.id:
            problems.append(
                f"subnet {subnet.id} is in VPC {found['VpcId']}, not {brought.id}: give "
                f"subnets of {brought.id} in [network] subnets in {where}"
            )
        elif found["AvailabilityZone"] != subnet.availability_zone:
            problems.append(
                f"subnet {subnet.id} is in {found['AvailabilityZone']}, not "
                f"{subnet.availability_zone}: fix its availability_zone in {where}"
            )
    findings.problems.extend(problems)
    if not problems:
        zones = ", ".join(f"{s.id} ({s.availability_zone})" for s in brought.subnets)
        findings.found.append(f"VPC {brought.id}, subnets {zones}")


def _subnets(ec2: Any, ids: list[str]) -> dict[str, dict[str, Any]]:
    """The subnets among `ids` that exist, by ID, every page of them."""
    request: dict[str, Any] = {"Filters": [{"Name": "subnet-id", "Values": ids}]}
    found: dict[str, dict[str, Any]] = {}
    while True:
        page = ec2.describe_subnets(**request)
        found.update({subnet["SubnetId"]: subnet for subnet in page["Subnets"]})
        if not page.get("NextToken"):
            return found
        request["NextToken"] = page["NextToken"]
