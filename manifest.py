"""build/<env>/manifest.json, the contract between generate.py (which writes it) and deployer/
(which reads it): its one definition.

`Manifest.to_dict()` is what generate.py writes and `Manifest.from_dict()` what the deployer
reads: strictly, so that the two cannot drift apart unnoticed. A missing key, a key this module
does not know or a value of another type is a ManifestError naming it. `Wiring` (where a
stack's parameters come from) is shared with templates/' `Stack`, which the builders return.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from environments.model import Subnet  # the brought VPC's subnets, as the environment has them

# The bucket the deployer uploads a template too large for TemplateBody to, one per account and
# region; the ci stack's deploy role is granted it by the same name.
TEMPLATE_BUCKET = "cfn-templates-{account}-{region}"

# The stack tags that say which environment (every stack) and which `[services.<name>]` (a
# service's stacks) a stack belongs to: how a deploy finds the stacks of services no longer in
# the environment file (orphans), and how `destroy` finds what to delete.
ENVIRONMENT_TAG = "scalable-app:environment"
SERVICE_TAG = "scalable-app:service"


class ManifestError(Exception):
    """The manifest (or a template it names) is missing, unreadable or malformed."""


@dataclass(frozen=True)
class FromStack:
    """A parameter filled from another stack: its `resources`' physical IDs (joined by ","),
    or the value of its Output `output`."""

    stack: str  # the other stack's key in the manifest
    resources: tuple[str, ...] = ()
    output: str | None = None

    def __post_init__(self) -> None:
        if bool(self.resources) == (self.output is not None):
            raise ValueError(f"FromStack({self.stack!r}): give resources or an output, not both")


@dataclass(frozen=True)
class StaticAssets:
    """Where push.py uploads the static assets: a bucket resource of a stack, under a prefix."""

    stack: str  # the stack's key in the manifest
    resource: str  # the bucket's logical ID
    source: Path  # the directory to upload, relative to the repository
    prefix: str  # "<image tag>/"


@dataclass(frozen=True)
class Certificate:
    """The HTTPS certificate a stack takes: the given `arn`, or (None) the ISSUED ACM
    certificate of the manifest's region that covers `domain`, found at deploy time."""

    domain: str
    arn: str | None


@dataclass(frozen=True)
class Vpc:
    """A VPC the account already has (the environment brings it), with its subnets."""

    id: str
    subnets: tuple[Subnet, ...]


# What a stack may need the account to have before it is deployed (StackSpec.prerequisites):
# the manifest's hosted zone, its SSM parameters, its brought VPC. A certificate is needed by
# the stacks with parameters_from_certificate.
HOSTED_ZONE, SSM_PARAMETERS, VPC = "hosted_zone", "ssm_parameters", "vpc"
PREREQUISITES = (HOSTED_ZONE, SSM_PARAMETERS, VPC)

# The stack tags every stack carries (StackSpec.tags): which environment it belongs to, and, on a
# service's stack, which [services.<name>]: what finds a service's stack once the file no longer
# names it (an orphan).
ENVIRONMENT_TAG = "scalable-app:environment"
SERVICE_TAG = "scalable-app:service"
# The stack every service shares (cluster, load balancer, alert topic), and a service's stack
# key: svc-<name>.
ENVIRONMENT_STACK = "environment"
SERVICE_STACK_PREFIX = "svc-"


def service_stack_key(service: str) -> str:
    return f"{SERVICE_STACK_PREFIX}{service}"


@dataclass(frozen=True, kw_only=True)
class Wiring:
    """How the deployer orders a stack and fills its parameters."""

    depends_on: tuple[str, ...] = ()
    parameters: dict[str, str] = field(default_factory=dict)
    parameters_from_stacks: dict[str, FromStack] = field(default_factory=dict)
    parameters_from_env: dict[str, str] = field(default_factory=dict)
    parameters_from_hosted_zone: tuple[str, ...] = ()  # filled with the hosted zone's ID
    parameters_from_certificate: tuple[str, ...] = ()  # filled with the certificate's ARN
    # Filled with "true" when the stack exists (an UPDATE change set), "false" on its first
    # create: what the template may do only once it exists (the load balancer's deletion
    # protection) or only when it is created (the service's DesiredCount).
    parameters_from_stack_exists: tuple[str, ...] = ()
    # Filled with the ID of the region's S3 prefix list (com.amazonaws.<region>.s3), read
    # with ec2:DescribePrefixLists at deploy time.
    parameters_from_s3_prefix_list: tuple[str, ...] = ()
    # The [services.<name>] the stack belongs to; None for the environment's shared stacks
    # (network, environment, registry, static).
    service: str | None = None


@dataclass(frozen=True)
class StackSpec(Wiring):
    key: str
    stack_name: str
    template_path: Path  # beside the manifest
    # What its change sets acknowledge: derived from the template (templates/capabilities.py)
    capabilities: tuple[str, ...] = ()
    tags: dict[str, str] = field(default_factory=dict)
    prerequisites: tuple[str, ...] = ()  # some of PREREQUISITES
    # The CloudFormation service role the change sets run as (the ci stack's); None: the
    # caller's own credentials.
    role_arn: str | None = None

    @property
    def takes_certificate(self) -> bool:
        return bool(self.parameters_from_certificate)

    def template_body(self) -> str:
        """The template's text, read from disk once (the change set, the review and the
        outputs all use it)."""
        return self._template_body

    @cached_property
    def _template_body(self) -> str:
        return read_text(self.template_path, "the template")

    @cached_property
    def template(self) -> dict[str, Any]:
        """The template, parsed once."""
        try:
            parsed: dict[str, Any] = json.loads(self.template_body())
        except ValueError as error:
            raise ManifestError(
                f"{self.template_path}: the template is not JSON ({error}); regenerate it "
                "(make templates ENV=...)"
            ) from None
        return parsed


@dataclass(frozen=True)
class Image:
    repository_name: str
    tag: str


@dataclass(frozen=True)
class Progressive:
    """A service deployed blue/green, canary or linear: what the deployer needs to follow the
    ECS service deployment, test the new revision at its pause and answer it."""

    strategy: str  # "blue_green", "canary" or "linear" ([services.<name>.deployment])
    # The test listener rule forwards a request that carries this header (and the service's
    # host and path) to the new revision while the deployment is paused.
    test_header: str
    test_header_value: str
    # ECS rolls the deployment back by itself when nobody answers the pause within this.
    pause_timeout_minutes: int


@dataclass(frozen=True)
class ServiceSpec:
    """One [services.<name>] of the environment, as the deployer reads it."""

    name: str  # the [services.<name>] key
    stack: str  # its stack's key in the manifest
    # The ECR image (repository_name, tag) the deployer checks before deploying; None: an
    # image URI the file names, which nothing here builds or checks.
    image: Image | None
    url: str  # where the service answers: "https://<host><path prefix>"
    health_path: str  # its health check is url + health_path
    progressive: Progressive | None = None  # None: a rolling update


@dataclass(frozen=True)
class CiStack:
    """The ci stack: deployed once by a person (README, "CI"), never by the deployer."""

    stack_name: str
    template: str  # its file, beside the manifest


@dataclass(frozen=True)
class Manifest:
    path: Path
    environment: str
    source: str
    region: str
    termination_protection: bool
    services: tuple[ServiceSpec, ...]
    hosted_zone_name: str | None
    ssm_parameters: dict[str, str]
    stacks: tuple[StackSpec, ...]
    static_assets: StaticAssets | None = None  # None: the environment has no CDN
    source_sha256: str | None = None  # of the environment file generated from
    certificate: Certificate | None = None  # None: no stack takes one (a template creates it)
    vpc: Vpc | None = None  # None: the environment brings no VPC (a network stack creates it)
    ci: CiStack | None = None  # None: the environment has no ci stack

    def stack(self, key: str) -> StackSpec:
        for spec in self.stacks:
            if key in (spec.key, spec.stack_name):
                return spec
        known = ", ".join(spec.key for spec in self.stacks)
        raise ManifestError(f"{self.path}: no stack {key!r}; the stacks are: {known}")

    def service(self, name: str) -> ServiceSpec:
        for spec in self.services:
            if spec.name == name:
                return spec
        known = ", ".join(spec.name for spec in self.services)
        raise ManifestError(f"{self.path}: no service {name!r}; the services are: {known}")

    def image_of(self, spec: StackSpec) -> Image | None:
        """The ECR image `spec`'s stack runs: its service's; None for a shared stack, or for a
        service whose file names an image URI (nothing here builds or checks it)."""
        for service in self.services:
            if service.stack == spec.key:
                return service.image
        return None

    def select(self, keys: list[str] | None) -> list[StackSpec]:
        """The chosen stacks (all when none are named), always in the manifest's order."""
        if not keys:
            return list(self.stacks)
        chosen = {self.stack(key).key for key in keys}
        return [spec for spec in self.stacks if spec.key in chosen]

    def to_dict(self) -> dict[str, Any]:
        """The manifest as generate.py writes it (JSON types only)."""
        return {
            "environment": self.environment,
            "source": self.source,
            "source_sha256": self.source_sha256,
            "region": self.region,
            "termination_protection": self.termination_protection,
            "services": [_service_dict(service) for service in self.services],
            "hosted_zone": None
            if self.hosted_zone_name is None
            else {"name": self.hosted_zone_name},
            "ssm_parameters": dict(self.ssm_parameters),
            "certificate": _certificate_dict(self.certificate),
            "vpc": _vpc_dict(self.vpc),
            "static_assets": _static_assets_dict(self.static_assets),
            "stacks": [_stack_dict(spec) for spec in self.stacks],
            "ci": None
            if self.ci is None
            else {"stack_name": self.ci.stack_name, "template": self.ci.template},
        }

    @classmethod
    def from_dict(cls, path: Path, data: object) -> Manifest:
        """The manifest read from `data` (the JSON at `path`); a ManifestError names the first
        key that is missing, unknown or of another type, or a stack out of order."""
        try:
            manifest = _manifest(path, _Fields(data, ""))
            _check_order(manifest)
            for spec in manifest.stacks:
                _prerequisites_described(manifest, spec)
        except _Malformed as error:
            raise ManifestError(
                f"{path}: malformed ({error}); regenerate it (make templates ENV=...)"
            ) from None
        return manifest


def read_text(path: Path, what: str) -> str:
    """A generated file's text (generate.py writes UTF-8), or a ManifestError saying why not."""
    try:
        content = path.read_bytes()
    except FileNotFoundError:
        raise ManifestError(
            f"{path} does not exist: generate the templates first (make templates ENV=...)"
        ) from None
    except OSError as error:
        raise ManifestError(f"{path}: cannot read {what}: {error}") from None
    try:
        return content.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ManifestError(
            f"{path}: {what} is not UTF-8 (byte {error.start} is 0x{content[error.start]:02x}: "
            f"{error.reason}); generate.py writes UTF-8, so the file was changed after it: "
            "regenerate it (make templates ENV=...)"
        ) from None


# ---- to_dict ------------------------------------------------------------------------------
def _certificate_dict(certificate: Certificate | None) -> dict[str, Any] | None:
    if certificate is None:
        return None
    return {"domain": certificate.domain, "arn": certificate.arn}


def _vpc_dict(vpc: Vpc | None) -> dict[str, Any] | None:
    if vpc is None:
        return None
    subnets = [{"id": s.id, "availability_zone": s.availability_zone} for s in vpc.subnets]
    return {"id": vpc.id, "subnets": subnets}


def _static_assets_dict(assets: StaticAssets | None) -> dict[str, str] | None:
    if assets is None:
        return None
    return {
        "stack": assets.stack,
        "resource": assets.resource,
        "source": assets.source.as_posix(),
        "prefix": assets.prefix,
    }


def _service_dict(service: ServiceSpec) -> dict[str, Any]:
    image = service.image
    return {
        "name": service.name,
        "stack": service.stack,
        "image": None
        if image is None
        else {"repository_name": image.repository_name, "tag": image.tag},
        "url": service.url,
        "health_path": service.health_path,
        "progressive": None if service.progressive is None else asdict(service.progressive),
    }


def _from_stack_dict(source: FromStack) -> dict[str, Any]:
    if source.output is not None:
        return {"stack": source.stack, "output": source.output}
    return {"stack": source.stack, "resources": list(source.resources)}


def _stack_dict(spec: StackSpec) -> dict[str, Any]:
    return {
        "key": spec.key,
        "stack_name": spec.stack_name,
        "template": spec.template_path.name,
        "depends_on": list(spec.depends_on),
        "capabilities": list(spec.capabilities),
        "tags": dict(spec.tags),
        "parameters": dict(spec.parameters),
        "parameters_from_stacks": {
            name: _from_stack_dict(source) for name, source in spec.parameters_from_stacks.items()
        },
        "parameters_from_env": dict(spec.parameters_from_env),
        "parameters_from_hosted_zone": list(spec.parameters_from_hosted_zone),
        "parameters_from_certificate": list(spec.parameters_from_certificate),
        "parameters_from_stack_exists": list(spec.parameters_from_stack_exists),
        "parameters_from_s3_prefix_list": list(spec.parameters_from_s3_prefix_list),
        "prerequisites": list(spec.prerequisites),
        "service": spec.service,
        "role_arn": spec.role_arn,
    }


# ---- from_dict ----------------------------------------------------------------------------
class _Malformed(Exception):
    """What from_dict found wrong, without the path (added once, by from_dict)."""


class _Fields:
    """One JSON object of the manifest, read key by key; finish() refuses the keys not read."""

    def __init__(self, data: object, where: str) -> None:
        if not isinstance(data, dict):
            raise _Malformed(
                f"{where.rstrip('.') or 'the manifest'} must be an object, not {data!r}"
            )
        self.data: dict[str, Any] = data
        self.where = where
        self._read: set[str] = set()

    def _get(self, key: str, kinds: tuple[type, ...], what: str, nullable: bool = False) -> Any:
        self._read.add(key)
        if key not in self.data:
            raise _Malformed(f"{self.where}{key}: missing")
        value = self.data[key]
        if value is None and nullable:
            return None
        # bool is an int to Python, not to JSON: true is no count, 1 is no flag.
        if not isinstance(value, kinds) or isinstance(value, bool) != (bool in kinds):
            raise _Malformed(f"{self.where}{key} must be {what}, not {value!r}")
        return value

    def string(self, key: str) -> str:
        value: str = self._get(key, (str,), "a string")
        return value

    def nullable_string(self, key: str) -> str | None:
        value: str | None = self._get(key, (str,), "a string or null", nullable=True)
        return value

    def boolean(self, key: str) -> bool:
        value: bool = self._get(key, (bool,), "true or false")
        return value

    def integer(self, key: str) -> int:
        value: int = self._get(key, (int,), "an integer")
        return value

    def strings(self, key: str) -> tuple[str, ...]:
        values = self._get(key, (list,), "a list of strings")
        if not all(isinstance(value, str) for value in values):
            raise _Malformed(f"{self.where}{key} must be a list of strings, not {values!r}")
        return tuple(values)

    def mapping(self, key: str) -> dict[str, str]:
        values = self._get(key, (dict,), "an object of strings")
        if not all(isinstance(value, str) for value in values.values()):
            raise _Malformed(f"{self.where}{key} must be an object of strings, not {values!r}")
        return dict(values)

    def table(self, key: str) -> _Fields:
        return _Fields(self._get(key, (dict,), "an object"), f"{self.where}{key}.")

    def nullable_table(self, key: str) -> _Fields | None:
        value = self._get(key, (dict,), "an object or null", nullable=True)
        return None if value is None else _Fields(value, f"{self.where}{key}.")

    def tables(self, key: str) -> list[_Fields]:
        values = self._get(key, (list,), "a list of objects")
        return [_Fields(value, f"{self.where}{key}[{i}].") for i, value in enumerate(values)]

    def finish(self) -> None:
        unknown = sorted(set(self.data) - self._read)
        if unknown:
            raise _Malformed(f"{self.where}{unknown[0]}: unknown key")


def _manifest(path: Path, root: _Fields) -> Manifest:
    zone = root.nullable_table("hosted_zone")
    manifest = Manifest(
        path=path,
        environment=root.string("environment"),
        source=root.string("source"),
        source_sha256=root.nullable_string("source_sha256"),
        region=root.string("region"),
        termination_protection=root.boolean("termination_protection"),
        services=tuple(_service(raw) for raw in root.tables("services")),
        hosted_zone_name=None if zone is None else _finished(zone, zone.string("name")),
        ssm_parameters=root.mapping("ssm_parameters"),
        certificate=_certificate(root.nullable_table("certificate")),
        vpc=_vpc(root.nullable_table("vpc")),
        static_assets=_static_assets(root.nullable_table("static_assets")),
        stacks=tuple(_stack(path.parent, raw) for raw in root.tables("stacks")),
        ci=_ci(root.nullable_table("ci")),
    )
    root.finish()
    return manifest


def _finished(fields: _Fields, value: Any) -> Any:
    fields.finish()
    return value


def _image(raw: _Fields) -> Image:
    return _finished(raw, Image(raw.string("repository_name"), raw.string("tag")))


def _service(raw: _Fields) -> ServiceSpec:
    image = raw.nullable_table("image")
    service = ServiceSpec(
        name=raw.string("name"),
        stack=raw.string("stack"),
        image=None if image is None else _image(image),
        url=raw.string("url"),
        health_path=raw.string("health_path"),
        progressive=_progressive(raw.nullable_table("progressive")),
    )
    return _finished(raw, service)


def _progressive(raw: _Fields | None) -> Progressive | None:
    if raw is None:
        return None
    progressive = Progressive(
        strategy=raw.string("strategy"),
        test_header=raw.string("test_header"),
        test_header_value=raw.string("test_header_value"),
        pause_timeout_minutes=raw.integer("pause_timeout_minutes"),
    )
    return _finished(raw, progressive)


def _certificate(raw: _Fields | None) -> Certificate | None:
    if raw is None:
        return None
    return _finished(raw, Certificate(raw.string("domain"), raw.nullable_string("arn")))


def _vpc(raw: _Fields | None) -> Vpc | None:
    if raw is None:
        return None
    subnets = tuple(
        _finished(s, Subnet(s.string("id"), s.string("availability_zone")))
        for s in raw.tables("subnets")
    )
    if not subnets:
        raise _Malformed("vpc.subnets: the brought VPC has no subnets")
    return _finished(raw, Vpc(raw.string("id"), subnets))


def _static_assets(raw: _Fields | None) -> StaticAssets | None:
    if raw is None:
        return None
    assets = StaticAssets(
        raw.string("stack"),
        raw.string("resource"),
        Path(raw.string("source")),
        raw.string("prefix"),
    )
    return _finished(raw, assets)


def _ci(raw: _Fields | None) -> CiStack | None:
    if raw is None:
        return None
    return _finished(raw, CiStack(raw.string("stack_name"), raw.string("template")))


def _from_stack(raw: _Fields) -> FromStack:
    stack = raw.string("stack")
    if "output" in raw.data:
        return _finished(raw, FromStack(stack, output=raw.string("output")))
    resources = raw.strings("resources")
    if not resources:
        raise _Malformed(f"{raw.where}resources: empty; a parameter needs a resource or an output")
    return _finished(raw, FromStack(stack, resources))


def _stack(directory: Path, raw: _Fields) -> StackSpec:
    from_stacks = raw.table("parameters_from_stacks")
    spec = StackSpec(
        key=raw.string("key"),
        stack_name=raw.string("stack_name"),
        template_path=directory / raw.string("template"),
        depends_on=raw.strings("depends_on"),
        capabilities=raw.strings("capabilities"),
        tags=raw.mapping("tags"),
        parameters=raw.mapping("parameters"),
        parameters_from_stacks={
            name: _from_stack(from_stacks.table(name)) for name in from_stacks.data
        },
        parameters_from_env=raw.mapping("parameters_from_env"),
        parameters_from_hosted_zone=raw.strings("parameters_from_hosted_zone"),
        parameters_from_certificate=raw.strings("parameters_from_certificate"),
        parameters_from_stack_exists=raw.strings("parameters_from_stack_exists"),
        parameters_from_s3_prefix_list=raw.strings("parameters_from_s3_prefix_list"),
        prerequisites=raw.strings("prerequisites"),
        service=raw.nullable_string("service"),
        role_arn=raw.nullable_string("role_arn"),
    )
    unknown = sorted(set(spec.prerequisites) - set(PREREQUISITES))
    if unknown:
        raise _Malformed(
            f"{raw.where}prerequisites: unknown {unknown}, expected some of {list(PREREQUISITES)}"
        )
    raw.finish()
    return spec


def _check_order(manifest: Manifest) -> None:
    """Each stack comes after those it depends on; the assets' stack is listed."""
    keys = [spec.key for spec in manifest.stacks]
    for index, spec in enumerate(manifest.stacks):
        for name in (*spec.depends_on, *(f.stack for f in spec.parameters_from_stacks.values())):
            if name not in keys[:index]:
                raise _Malformed(f"stack {spec.key!r} depends on {name!r}, which is not before it")
    for service in manifest.services:
        if service.stack not in keys:
            raise _Malformed(
                f"service {service.name!r} is in stack {service.stack!r}, which is not listed"
            )
    assets = manifest.static_assets
    if assets is not None and assets.stack not in keys:
        raise _Malformed(f"static_assets are in stack {assets.stack!r}, which is not listed")


def _prerequisites_described(manifest: Manifest, spec: StackSpec) -> None:
    """What a stack needs from the account is described at the top of the manifest."""
    if spec.takes_certificate and manifest.certificate is None:
        raise _Malformed(f"stack {spec.key!r} takes a certificate, and no certificate is given")
    if (HOSTED_ZONE in spec.prerequisites or spec.parameters_from_hosted_zone) and not (
        manifest.hosted_zone_name
    ):
        raise _Malformed(f"stack {spec.key!r} needs the hosted zone, and none is named")
    if VPC in spec.prerequisites and manifest.vpc is None:
        raise _Malformed(f"stack {spec.key!r} needs the brought VPC, and no vpc is given")
