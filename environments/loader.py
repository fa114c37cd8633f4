"""Load `environments/<name>.toml` into an `Environment`, or stop with one clear `ConfigError`."""

from __future__ import annotations

import hashlib
import ipaddress
import re
import tomllib
from functools import cache
from pathlib import Path

from environments.model import (
    COMPLIANCE,
    ENDPOINTS,
    GOVERNANCE,
    NAT,
    PRIVATE,
    PUBLIC,
    AlarmThresholds,
    CiConfig,
    CreateVpc,
    DnsConfig,
    Environment,
    ExistingVpc,
    LogsConfig,
    PagerDutyConfig,
    Placement,
    ScalingConfig,
    StaticAssetsConfig,
    Subnet,
    TlsConfig,
)
from environments.reader import ConfigError, Table, one_of
from environments.services import HOSTNAME, _app, _image_tag, _services

DIRECTORY = Path(__file__).resolve().parent

REGION = re.compile(r"^[a-z]{2}(-gov)?-[a-z]+-\d$")
ENVIRONMENT_NAME = re.compile(r"^[a-z][a-z0-9-]{0,14}$")
VPC_ID = re.compile(r"^vpc-[0-9a-f]{8,17}$")
SUBNET_ID = re.compile(r"^subnet-[0-9a-f]{8,17}$")
SECURITY_GROUP_ID = re.compile(r"^sg-[0-9a-f]{8,17}$")
# CloudFront takes certificates from ACM in this region only.
CLOUDFRONT_CERTIFICATE_REGION = "us-east-1"
CERTIFICATE_ARN = re.compile(
    r"^arn:aws(-[a-z]+)*:acm:(?P<region>[a-z0-9-]+):\d{12}:certificate/[0-9a-f-]{36}$"
)
SSM_NAME = re.compile(r"^(/[A-Za-z0-9_.-]+)+$")
ENV_VAR = re.compile(r"^[A-Z_][A-Z0-9_]*$")

# CloudWatch Logs accepts only these retention periods.
LOG_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827)


def path_of(name_or_path: str | Path) -> Path:
    """`local` means environments/local.toml; anything with a slash or suffix is a path."""
    text = str(name_or_path)
    if "/" in text or text.endswith(".toml"):
        return Path(text)
    return DIRECTORY / f"{text}.toml"


def available() -> list[str]:
    return sorted(path.stem for path in DIRECTORY.glob("*.toml"))


def load(name_or_path: str | Path) -> Environment:
    path = path_of(name_or_path)
    if not path.is_file():
        names = ", ".join(available())
        raise ConfigError(path, "file", f"no such environment file; known environments: {names}")
    if not ENVIRONMENT_NAME.match(path.stem):
        raise ConfigError(
            path, "file name", "expected lowercase letters, digits and hyphens, at most 15"
        )
    content = path.read_bytes()
    try:
        data = tomllib.loads(_decode(path, content))
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(path, "syntax", f"not valid TOML ({error})") from error

    root = Table(path, data)
    region = root.string("region", "an AWS region such as eu-west-1", check=REGION.match)
    if region not in known_regions():
        raise root.error(
            "region",
            f"{region} is not a region CloudFormation is offered in (botocore's list of "
            f"partitions and regions); use one such as eu-west-1 or us-east-1",
        )
    dns = _dns(root.table("dns"))
    environment = Environment(
        name=path.stem,
        path=path,
        region=region,
        termination_protection=root.boolean("termination_protection", default=True),
        app=_app(root),
        image_tag=_image_tag(root),
        services=_services(root, dns),
        network=_network(root.table("network"), region),
        dns=dns,
        tls=_tls(root.table("tls"), region),
        pagerduty=_pagerduty(root.table("pagerduty")),
        alarms=_alarms(root.table("alarms", required=False)),
        scaling=_scaling(root.table("scaling", required=False)),
        logs=_logs(root.table("logs", required=False)),
        static_assets=_static_assets(root.table("static_assets", required=False), region, dns),
        tags=_tags(root),
        sha256=hashlib.sha256(content).hexdigest(),
        ci=_ci(root.table("ci", required=False), region),
    )
    root.finish()
    return environment


def _decode(path: Path, content: bytes) -> str:
    """The file's text; TOML is UTF-8 by definition, so other bytes are an error that says
    where they are (a file saved as Latin-1 or UTF-16 by an editor, or pasted binary)."""
    try:
        return content.decode("utf-8")
    except UnicodeDecodeError as error:
        line = content.count(b"\n", 0, error.start) + 1
        raise ConfigError(
            path,
            "encoding",
            f"byte {error.start} (line {line}) is 0x{content[error.start]:02x}, not UTF-8 "
            f"({error.reason}): TOML files are UTF-8; save the file as UTF-8, or replace "
            "that character",
        ) from None


def _network(table: Table, region: str) -> CreateVpc | ExistingVpc:
    chosen = one_of(table, ("cidr", "vpc_id"), "create a VPC or bring one")
    placement = _placement(table)
    if chosen == "cidr":
        network: CreateVpc | ExistingVpc = _create_vpc(table, placement)
    else:
        network = _existing_vpc(table, region, placement)
    table.finish()
    return network


def _placement(table: Table) -> Placement:
    tasks = table.string(
        "placement",
        f'"{PRIVATE}" (tasks in private subnets) or "{PUBLIC}" (tasks with public addresses)',
        default=PRIVATE,
        check=lambda value: value in (PUBLIC, PRIVATE),
    )
    if tasks == PUBLIC:
        _only_with(table, ("egress",), f'placement = "{PRIVATE}"')
        return Placement(tasks=PUBLIC, egress=None)
    egress = table.string(
        "egress",
        f'"{ENDPOINTS}" (VPC endpoints, no way out of the VPC) or "{NAT}" (a NAT gateway)',
        default=ENDPOINTS,
        check=lambda value: value in (ENDPOINTS, NAT),
    )
    # The S3 prefix list the tasks reach with endpoints is the region's, read by the deployer
    # at deploy time (ec2:DescribePrefixLists), never written here.
    return Placement(tasks=PRIVATE, egress=egress)


def _only_with(table: Table, keys: tuple[str, ...], condition: str) -> None:
    for key in keys:
        if table.has(key):
            raise table.error(key, f"only applies with {condition}; remove it")


def _create_vpc(table: Table, placement: Placement) -> CreateVpc:
    text = table.string("cidr", "an IPv4 CIDR block from /16 to /24, such as 10.0.0.0/16")
    try:
        cidr = ipaddress.IPv4Network(text)
    except ValueError as error:
        raise table.error(
            "cidr", f'expected an IPv4 CIDR block such as 10.0.0.0/16, got "{text}" ({error})'
        ) from error
    if not 16 <= cidr.prefixlen <= 24:
        raise table.error(
            "cidr",
            f"expected a prefix from /16 to /24 (AWS allows no larger VPC), got /{cidr.prefixlen}",
        )
    # Each subnet an eighth of the VPC: two public, then two private, half the VPC left free.
    public_a, public_b, private_a, private_b, *_ = (str(c) for c in cidr.subnets(prefixlen_diff=3))
    return CreateVpc(
        cidr=str(cidr),
        subnet_cidrs=(public_a, public_b),
        private_subnet_cidrs=(private_a, private_b),
        placement=placement,
    )


def _existing_vpc(table: Table, region: str, placement: Placement) -> ExistingVpc:
    vpc_id = table.string("vpc_id", "a VPC ID such as vpc-0123456789abcdef0", check=VPC_ID.match)
    subnets = _subnets(table, "subnets", region, "the load balancer needs two")
    if not placement.private:
        _only_with(
            table, ("private_subnets", "endpoint_security_group"), f'placement = "{PRIVATE}"'
        )
        return ExistingVpc(vpc_id=vpc_id, subnets=subnets, placement=placement)
    if not table.has("private_subnets"):
        raise table.error(
            "private_subnets",
            f'missing; placement = "{PRIVATE}" runs the tasks in the VPC\'s private subnets: '
            "list at least two, in two availability zones, as subnets is listed",
        )
    private = _subnets(table, "private_subnets", region, "the tasks run in two zones")
    shared = sorted({s.id for s in subnets} & {s.id for s in private})
    if shared:
        raise table.error(
            "private_subnets",
            f"{', '.join(shared)} also in subnets: the load balancer's subnets are public, "
            "the tasks' private; name different ones",
        )
    endpoint_group = None
    if placement.through_endpoints:
        endpoint_group = table.string(
            "endpoint_security_group",
            "the security group ID (sg-...) of the VPC's interface endpoints for ecr.api, "
            f'ecr.dkr and logs (or egress = "{NAT}" if its private subnets route to a NAT)',
            check=SECURITY_GROUP_ID.match,
        )
    else:
        _only_with(table, ("endpoint_security_group",), f'egress = "{ENDPOINTS}"')
    return ExistingVpc(
        vpc_id=vpc_id,
        subnets=subnets,
        placement=placement,
        private_subnets=private,
        endpoint_security_group=endpoint_group,
    )


def _subnets(table: Table, key: str, region: str, why: str) -> tuple[Subnet, ...]:
    subnets = []
    for item in table.tables(key):
        subnets.append(
            Subnet(
                id=item.string(
                    "id", "a subnet ID such as subnet-0123456789abcdef0", check=SUBNET_ID.match
                ),
                availability_zone=item.string(
                    "availability_zone",
                    f"an availability zone of {region}, such as {region}a",
                    check=lambda zone: re.fullmatch(rf"{re.escape(region)}[a-z]", zone) is not None,
                ),
            )
        )
        item.finish()
    zones = {subnet.availability_zone for subnet in subnets}
    if len(subnets) < 2 or len(zones) < 2:
        raise table.error(
            key,
            f"expected at least two subnets in two different availability zones ({why}), "
            f"got {len(subnets)} in {len(zones)}",
        )
    return tuple(subnets)


@cache
def known_regions() -> frozenset[str]:
    """Every region of every partition where CloudFormation runs, from the endpoint data
    botocore ships (the list AWS's own SDK resolves against, updated with it). Read as
    `Session.get_available_regions("cloudformation", partition)` reads it, without a session:
    that imports botocore's client machinery and parses CloudFormation's whole service model
    for its endpoint prefix ("cloudformation"), a tenth of a one-service `make templates`."""
    from botocore.loaders import create_loader
    from botocore.regions import EndpointResolver

    resolver = EndpointResolver(create_loader().load_data("endpoints"))
    return frozenset(
        region
        for partition in resolver.get_available_partitions()
        for region in resolver.get_available_endpoints("cloudformation", partition)
    )


def _dns(table: Table) -> DnsConfig:
    zone = table.string(
        "hosted_zone", "the Route53 hosted zone's domain, such as example.com", check=_is_hostname
    ).rstrip(".")
    domain = table.string(
        "domain", f"a host name inside {zone}, such as app.{zone}", check=_is_hostname
    )
    domain = domain.rstrip(".")
    if domain != zone and not domain.endswith(f".{zone}"):
        raise table.error(
            "domain", f'expected a name inside the hosted zone "{zone}", got "{domain}"'
        )
    table.finish()
    return DnsConfig(hosted_zone_name=f"{zone}.", domain_name=domain)


def _is_hostname(text: str) -> bool:
    return HOSTNAME.match(text.rstrip(".")) is not None


TLS_CHOICES = ("certificate_arn", "create_certificate", "find_certificate")


def _tls(table: Table, region: str) -> TlsConfig:
    chosen = one_of(table, TLS_CHOICES, "the HTTPS certificate")
    if chosen != "certificate_arn":
        if not table.boolean(chosen):
            others = " or ".join(f"{key} = true" for key in TLS_CHOICES[1:] if key != chosen)
            raise table.error(chosen, f"expected true, or give certificate_arn or {others} instead")
        table.finish()
        return TlsConfig(certificate_arn=None, find_certificate=chosen == "find_certificate")
    arn = _certificate_arn(table, region, f"a load balancer in {region} needs one from {region}")
    table.finish()
    return TlsConfig(certificate_arn=arn)


def _certificate_arn(table: Table, region: str, fix: str) -> str:
    """`certificate_arn`: an ACM certificate ARN of `region`; `fix` says what to do otherwise."""
    arn: str = table.string(
        "certificate_arn",
        f"an ACM certificate ARN, arn:aws:acm:{region}:ACCOUNT:certificate/ID",
        check=CERTIFICATE_ARN.match,
    )
    cert_region = CERTIFICATE_ARN.match(arn)["region"]  # type: ignore[index]
    if cert_region != region:
        raise table.error("certificate_arn", f"the certificate is in {cert_region}; {fix}")
    return arn


def _pagerduty(table: Table) -> PagerDutyConfig:
    chosen = one_of(
        table,
        ("url_ssm_parameter", "url_env_var"),
        "where the PagerDuty integration URL comes from (never the URL itself)",
    )
    config = PagerDutyConfig(
        ssm_parameter=table.string(
            "url_ssm_parameter",
            "an SSM parameter name such as /team/pagerduty-url",
            required=chosen == "url_ssm_parameter",
            check=SSM_NAME.match,
        ),
        env_var=table.string(
            "url_env_var",
            "an environment variable name such as PAGERDUTY_URL",
            required=chosen == "url_env_var",
            check=ENV_VAR.match,
        ),
    )
    table.finish()
    return config


def _alarms(table: Table) -> AlarmThresholds:
    alarms = AlarmThresholds(
        elb_5xx_count=table.integer("elb_5xx_count", 1, 100_000, default=10),
        target_5xx_count=table.integer("target_5xx_count", 1, 100_000, default=10),
        client_4xx_percent=table.number("client_4xx_percent", 0.1, 100, default=10.0),
        unhealthy_hosts=table.integer("unhealthy_hosts", 1, 100, default=1),
        p99_latency_seconds=table.number("p99_latency_seconds", 0.001, 60, default=1.0),
        evaluation_periods=table.integer("evaluation_periods", 1, 60, default=3),
    )
    table.finish()
    return alarms


def _scaling(table: Table) -> ScalingConfig:
    scaling = ScalingConfig(
        cpu_target_percent=table.number("cpu_target_percent", 10, 90, default=60.0),
        requests_per_target=table.integer("requests_per_target", 1, 100_000, default=500),
    )
    table.finish()
    return scaling


def _logs(table: Table) -> LogsConfig:
    days = table.integer("retention_days", 1, 1827, default=30, unit=" days")
    if days not in LOG_RETENTION_DAYS:
        allowed = ", ".join(map(str, LOG_RETENTION_DAYS))
        raise table.error("retention_days", f"expected one of {allowed} (CloudWatch's), got {days}")
    modes = {GOVERNANCE.lower(): GOVERNANCE, COMPLIANCE.lower(): COMPLIANCE}
    mode = table.string(
        "object_lock",
        '"governance" (a principal granted s3:BypassGovernanceRetention may still delete) or '
        '"compliance" (nobody may, not even the root user, until the retention ends)',
        default=GOVERNANCE.lower(),
        check=lambda value: value in modes,
    )
    config = LogsConfig(
        retention_days=days,
        object_lock_mode=modes[mode],
        object_lock_days=table.integer("object_lock_days", 1, 36500, default=days, unit=" days"),
    )
    table.finish()
    return config


def _static_assets(table: Table, region: str, dns: DnsConfig) -> StaticAssetsConfig:
    if not table.boolean("cdn", default=True):
        table.finish()
        return StaticAssetsConfig(cdn=False)
    zone = dns.hosted_zone_name.rstrip(".")
    domain = table.string(
        "domain",
        f"a host name inside {zone}, such as assets.{dns.domain_name}",
        default=f"assets.{dns.domain_name}",
        check=lambda name: _is_hostname(name) and name.rstrip(".").endswith(f".{zone}"),
    ).rstrip(".")
    chosen = one_of(
        table,
        ("certificate_arn", "create_certificate"),
        f"the CDN's certificate for {domain} (CloudFront takes one from ACM in "
        f"{CLOUDFRONT_CERTIFICATE_REGION} only)",
    )
    arn = None
    if chosen == "create_certificate":
        if not table.boolean("create_certificate"):
            raise table.error("create_certificate", "expected true, or give certificate_arn")
        if region != CLOUDFRONT_CERTIFICATE_REGION:
            raise table.error(
                "create_certificate",
                f"CloudFront takes certificates from {CLOUDFRONT_CERTIFICATE_REGION} only and "
                f"this environment's stacks are in {region}: request (or import) a certificate "
                f"for {domain} in {CLOUDFRONT_CERTIFICATE_REGION} and give its ARN as "
                "certificate_arn",
            )
    else:
        arn = _certificate_arn(
            table,
            CLOUDFRONT_CERTIFICATE_REGION,
            f"CloudFront takes certificates from {CLOUDFRONT_CERTIFICATE_REGION} only: request "
            f"(or import) one for {domain} there",
        )
    table.finish()
    return StaticAssetsConfig(cdn=True, domain_name=domain, certificate_arn=arn)


def _tags(root: Table) -> dict[str, str]:
    tags = root.mapping("tags")
    for key, value in tags.items():
        if key.lower().startswith("aws:") or not 1 <= len(key) <= 128 or len(value) > 256:
            raise ConfigError(
                root.path,
                f"tags.{key}",
                'expected a key of 1 to 128 characters not starting with "aws:" '
                "and a value of at most 256",
            )
    return tags


# ---- ci (issue 10) ----
GITHUB_REPOSITORY = re.compile(r"^[A-Za-z0-9-]{1,39}/[A-Za-z0-9._-]{1,100}$")
ACCOUNT_ID = re.compile(r"^\d{12}$")
OIDC_PROVIDER_ARN = re.compile(
    r"^arn:aws(-[a-z]+)*:iam::(?P<account>\d{12}):oidc-provider/token\.actions\.githubusercontent\.com$"
)


def _ci(table: Table, region: str) -> CiConfig | None:
    """None when the file has no [ci] table: the environment is deployed by hand only."""
    if not table.data:
        return None
    account = table.string("account_id", "a 12-digit AWS account ID", check=ACCOUNT_ID.match)
    config = CiConfig(
        github_repository=table.string(
            "github_repository",
            'the GitHub repository that deploys, "owner/name"',
            check=GITHUB_REPOSITORY.match,
        ),
        account_id=account,
        oidc_provider_arn=table.string(
            "oidc_provider_arn",
            "the ARN of the account's OIDC provider for token.actions.githubusercontent.com, "
            f"arn:aws:iam::{account}:oidc-provider/token.actions.githubusercontent.com",
            required=False,
            check=lambda arn: (
                (m := OIDC_PROVIDER_ARN.match(arn)) is not None and m["account"] == account
            ),
        ),
        pull_request_plans=table.boolean("pull_request_plans", default=False),
    )
    table.finish()
    return config
