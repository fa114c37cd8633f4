"""Typed, validated configuration of one environment. Everything after loading trusts it."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

# An image tag as ECR and Docker take it, unanchored: the loader anchors it, and it is the
# service stack's ImageTag AllowedPattern as it stands (CloudFormation matches the whole value).
IMAGE_TAG_PATTERN = r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}"


# The service's own image: this repository's Dockerfile (the default) or another one, built
# and pushed to the service's ECR repository by `make push`; or an image URI the file names,
# which nothing builds or pushes.
DEFAULT_DOCKERFILE = "Dockerfile"


@dataclass(frozen=True)
class ImageSource:
    dockerfile: str | None  # a path relative to the repository; None: `uri` names the image
    uri: str | None = None  # "registry/name:tag" or "...@sha256:...", deployed as it is


@dataclass(frozen=True)
class Route:
    """Where the load balancer sends a request to the service: its host (inside dns.hosted_zone),
    and, optionally, a path prefix under it ("/api" matches /api and /api/...)."""

    host: str
    path: str | None = None  # None: every path of the host


# How a new version of a service takes traffic ([services.<name>.deployment] strategy): ECS's
# DeploymentConfiguration.Strategy, in the file's lowercase.
ROLLING, BLUE_GREEN, CANARY, LINEAR = "rolling", "blue_green", "canary", "linear"
STRATEGIES = (ROLLING, BLUE_GREEN, CANARY, LINEAR)


@dataclass(frozen=True)
class DeploymentConfig:
    """One `[services.<name>.deployment]` table (absent: a rolling update)."""

    strategy: str = ROLLING
    # After production traffic has all moved, how long the old revision stays ready to take it
    # back (BakeTimeInMinutes). Not for rolling.
    bake_time_minutes: int = 0
    # canary: the share of production traffic the new revision takes first, and for how long
    # (CanaryConfiguration).
    canary_percent: float | None = None
    canary_bake_minutes: int | None = None
    # linear: the share each step moves, and the wait between steps (LinearConfiguration).
    linear_step_percent: float | None = None
    linear_step_bake_minutes: int | None = None
    # How long the PAUSE hook after test traffic has shifted waits for the deployer's verdict
    # before ECS rolls the deployment back by itself.
    pause_timeout_minutes: int = 30

    @property
    def progressive(self) -> bool:
        """A second target group, a test listener rule and a pause for the deployer's checks."""
        return self.strategy != ROLLING


@dataclass(frozen=True)
class ServiceConfig:
    """One `[services.<name>]` table."""

    name: str  # DNS-safe; names its stack (svc-<name>), target group, log group and roles
    image: ImageSource
    cpu: int  # Fargate CPU units (256, 512, 1024, 2048, 4096)
    memory: int  # MiB, a size Fargate accepts for that CPU
    # The task count is Application Auto Scaling's, between these (no DesiredCount: a deploy
    # never resets what autoscaling scaled to).
    min_count: int
    max_count: int
    health_check_grace_seconds: int
    route: Route
    # The listener rule's priority (1-50000): assigned from the route's specificity and a hash
    # of the name unless the file sets it (`priority`, to settle a collision).
    priority: int
    port: int = 8448
    health_path: str = "/_health"
    environment: dict[str, str] = field(default_factory=dict)
    # Environment variable -> an SSM parameter name ("/a/b") or a Secrets Manager secret ARN:
    # the task definition's Secrets, readable by the execution role alone.
    secrets: dict[str, str] = field(default_factory=dict)
    deployment: DeploymentConfig = field(default_factory=DeploymentConfig)


# Where the tasks run ([network] placement).
PUBLIC, PRIVATE = "public", "private"
# How tasks in private subnets reach ECR, CloudWatch Logs and S3 ([network] egress).
ENDPOINTS, NAT = "endpoints", "nat"


@dataclass(frozen=True)
class Placement:
    """Where the tasks run and how they reach AWS's APIs.

    - public: public subnets, a public address per task, 443 out to anywhere (the emulator);
    - private + endpoints: private subnets, no route out of the VPC; interface endpoints for
      ecr.api, ecr.dkr and logs, a gateway endpoint for S3; egress only to those;
    - private + nat: private subnets whose default route is a NAT gateway; 443 out to anywhere.
    """

    tasks: str  # PUBLIC or PRIVATE
    egress: str | None  # ENDPOINTS or NAT when private; None when public

    @property
    def private(self) -> bool:
        return self.tasks == PRIVATE

    @property
    def through_endpoints(self) -> bool:
        return self.private and self.egress == ENDPOINTS


@dataclass(frozen=True)
class CreateVpc:
    """The network stack creates a VPC: two public subnets in two AZs (the load balancer, and
    the tasks when placed public), two private ones when the tasks are placed private."""

    cidr: str  # e.g. "10.0.0.0/16"
    subnet_cidrs: tuple[str, str]  # the public subnets, carved from cidr
    private_subnet_cidrs: tuple[str, str]  # the private subnets, carved from cidr
    placement: Placement


@dataclass(frozen=True)
class Subnet:
    id: str
    availability_zone: str


@dataclass(frozen=True)
class ExistingVpc:
    """A VPC the account already has: no network stack."""

    vpc_id: str
    subnets: tuple[Subnet, ...]  # public, for the load balancer: at least two, in two AZs
    placement: Placement
    # Private placement: the subnets the tasks run in (at least two, in two AZs).
    private_subnets: tuple[Subnet, ...] = ()
    # Private + endpoints: the security group of the VPC's own interface endpoints (ecr.api,
    # ecr.dkr, logs), which the service stack lets its tasks reach on 443.
    endpoint_security_group: str | None = None

    @property
    def task_subnets(self) -> tuple[Subnet, ...]:
        return self.private_subnets if self.placement.private else self.subnets


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
    # With a CDN: the name it answers on (assets.<dns.domain> unless given), inside the hosted
    # zone, and its certificate: an ACM certificate of us-east-1 (CloudFront takes no other)
    # given by ARN, or None for one the static stack creates (only a us-east-1 stack can).
    domain_name: str | None = None
    certificate_arn: str | None = None


# S3 Object Lock's retention modes ([logs] object_lock): governance lets a principal granted
# s3:BypassGovernanceRetention delete early; compliance lets nobody, not even the root user.
GOVERNANCE, COMPLIANCE = "GOVERNANCE", "COMPLIANCE"


@dataclass(frozen=True)
class LogsConfig:
    retention_days: int  # CloudWatch Logs' retention, and the access logs' expiry
    object_lock_mode: str  # GOVERNANCE or COMPLIANCE: the load balancer's access logs
    object_lock_days: int  # how long each access-log object version cannot be erased


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
    # A plan role that this repository's pull requests assume (make plan from a PR). Off unless
    # asked for: a pull request is code nobody has reviewed yet, and production needs no plans
    # from it.
    pull_request_plans: bool = False


@dataclass(frozen=True)
class Environment:
    name: str  # the file's stem: "production", "local"
    path: Path
    region: str
    termination_protection: bool
    app: str  # prefixes every stack and resource name ("scalable-app")
    image_tag: str | None  # None: the git revision of the checkout, resolved by generate.py
    services: tuple[ServiceConfig, ...]
    network: CreateVpc | ExistingVpc
    dns: DnsConfig
    tls: TlsConfig
    pagerduty: PagerDutyConfig
    alarms: AlarmThresholds
    scaling: ScalingConfig
    logs: LogsConfig
    static_assets: StaticAssetsConfig
    tags: dict[str, str] = field(default_factory=dict)
    # The SHA-256 of the file's bytes as loaded: the manifest records it, so the deployer can
    # tell whether the file changed after the templates were generated.
    sha256: str = ""
    ci: CiConfig | None = None  # None: no ci stack, deploys use the caller's own credentials

    def service(self, name: str) -> ServiceConfig:
        return next(service for service in self.services if service.name == name)

    @property
    def log_retention_days(self) -> int:
        return self.logs.retention_days
