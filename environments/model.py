"""Typed, validated configuration of one environment. Everything after loading trusts it."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

# An image tag as ECR and Docker take it, unanchored: the loader anchors it, and it is the
# service stack's ImageTag AllowedPattern as it stands (CloudFormation matches the whole value).
IMAGE_TAG_PATTERN = r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}"


@dataclass(frozen=True)
class ServiceConfig:
    name: str  # lowercase letters, digits and hyphens; prefixes every stack and resource name
    image_tag: str | None  # None: the git revision of the checkout, resolved by generate.py
    cpu: int  # Fargate CPU units (256, 512, 1024, 2048, 4096)
    memory: int  # MiB, a size Fargate accepts for that CPU
    desired_count: int
    min_count: int
    max_count: int
    health_check_grace_seconds: int


@dataclass(frozen=True)
class CreateVpc:
    """The network stack creates a VPC with two public subnets in two AZs."""

    cidr: str  # e.g. "10.0.0.0/16"
    subnet_cidrs: tuple[str, str]  # carved from cidr unless given


@dataclass(frozen=True)
class Subnet:
    id: str
    availability_zone: str


@dataclass(frozen=True)
class ExistingVpc:
    """A VPC the account already has: no network stack."""

    vpc_id: str
    subnets: tuple[Subnet, ...]  # at least two, in at least two AZs


@dataclass(frozen=True)
class DnsConfig:
    hosted_zone_name: str  # "example.com." (always ends with a dot)
    domain_name: str  # "app.example.com" (inside the hosted zone)


@dataclass(frozen=True)
class TlsConfig:
    """Where the HTTPS listener's certificate comes from: exactly one of three.

    - `certificate_arn`: the environment names it;
    - `find_certificate`: the ISSUED ACM certificate in the stack's region that covers
      `dns.domain`, looked up by the deployer at deploy time (an account's own, or the one
      local_aws.py imports into the emulator);
    - neither: the template creates an ACM certificate, validated by DNS in the hosted zone.
    """

    certificate_arn: str | None
    find_certificate: bool = False

    @property
    def create_certificate(self) -> bool:
        return self.certificate_arn is None and not self.find_certificate


@dataclass(frozen=True)
class PagerDutyConfig:
    """Where the PagerDuty integration URL comes from; it is never written in git."""

    ssm_parameter: str | None  # name of an SSM String parameter holding the URL
    env_var: str | None  # or: a NoEcho stack parameter filled from this variable at deploy time


@dataclass(frozen=True)
class AlarmThresholds:
    elb_5xx_count: int  # ALB-generated 5xx per minute
    target_5xx_count: int  # 5xx returned by the tasks per minute
    client_4xx_percent: float  # 4xx as a percentage of requests (metric math)
    unhealthy_hosts: int  # unhealthy targets, sustained
    p99_latency_seconds: float  # p99 target response time
    evaluation_periods: int  # one-minute periods in breach before ALARM


@dataclass(frozen=True)
class ScalingConfig:
    cpu_target_percent: float
    requests_per_target: int


@dataclass(frozen=True)
class StaticAssetsConfig:
    """How browsers get the static assets (the page's picture, CSS, scripts)."""

    # True: a private S3 bucket behind CloudFront with origin access control; `make push`
    # uploads the revision's assets there. False: the app serves the copy in its image.
    cdn: bool


# ---- ci (issue 10) ----
@dataclass(frozen=True)
class CiConfig:
    """The `ci` stack: GitHub Actions of one repository plans and deploys this environment,
    with a role assumed through GitHub's OIDC provider (no stored keys)."""

    github_repository: str  # "owner/name", as GitHub spells it
    account_id: str  # the account the stacks go to: the CloudFormation role's ARN names it
    # The account's GitHub OIDC provider when another stack already made it (an account holds
    # one per URL); None: this ci stack creates it.
    oidc_provider_arn: str | None = None


@dataclass(frozen=True)
class Environment:
    name: str  # the file's stem: "production", "local"
    path: Path
    region: str
    termination_protection: bool
    service: ServiceConfig
    network: CreateVpc | ExistingVpc
    dns: DnsConfig
    tls: TlsConfig
    pagerduty: PagerDutyConfig
    alarms: AlarmThresholds
    scaling: ScalingConfig
    log_retention_days: int
    static_assets: StaticAssetsConfig
    tags: dict[str, str] = field(default_factory=dict)
    # The SHA-256 of the file's bytes as loaded: the manifest records it, so the deployer can
    # tell whether the file changed after the templates were generated.
    sha256: str = ""
    ci: CiConfig | None = None  # None: no ci stack, deploys use the caller's own credentials
