"""Read build/<env>/manifest.json, the contract written by generate.py.

The fields added after the first version (the environment file's digest, the certificate,
the brought VPC, each stack's prerequisites and certificate parameters) may be absent, as in
a hand-written manifest, and then mean "none"; when present they must have exactly their type.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, TypeVar

from deployer.errors import ManifestError


@dataclass(frozen=True)
class FromStack:
    """A parameter filled from another stack: its `resources`' physical IDs (joined by ","),
    or the value of its Output `output`."""

    stack: str  # the other stack's key in the manifest
    resources: tuple[str, ...] = ()
    output: str | None = None


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
class Subnet:
    id: str
    availability_zone: str


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


@dataclass(frozen=True)
class StackSpec:
    key: str
    stack_name: str
    template_path: Path
    depends_on: tuple[str, ...] = ()
    capabilities: tuple[str, ...] = ()
    tags: dict[str, str] = field(default_factory=dict)
    parameters: dict[str, str] = field(default_factory=dict)
    parameters_from_stacks: dict[str, FromStack] = field(default_factory=dict)
    parameters_from_env: dict[str, str] = field(default_factory=dict)
    parameters_from_hosted_zone: tuple[str, ...] = ()  # filled with the hosted zone's ID
    needs_image: bool = False
    parameters_from_certificate: tuple[str, ...] = ()  # filled with the certificate's ARN
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
class Manifest:
    path: Path
    environment: str
    source: str
    region: str
    termination_protection: bool
    image: Image
    hosted_zone_name: str | None
    ssm_parameters: dict[str, str]
    stacks: tuple[StackSpec, ...]
    static_assets: StaticAssets | None = None  # None: the environment has no CDN
    source_sha256: str | None = None  # of the environment file generated from; None: unknown
    certificate: Certificate | None = None  # None: no stack takes one (a template creates it)
    vpc: Vpc | None = None  # None: the environment brings no VPC (a network stack creates it)

    def stack(self, key: str) -> StackSpec:
        for spec in self.stacks:
            if key in (spec.key, spec.stack_name):
                return spec
        known = ", ".join(spec.key for spec in self.stacks)
        raise ManifestError(f"{self.path}: no stack {key!r}; the stacks are: {known}")

    def select(self, keys: list[str] | None) -> list[StackSpec]:
        """The chosen stacks (all when none are named), always in the manifest's order."""
        if not keys:
            return list(self.stacks)
        chosen = {self.stack(key).key for key in keys}
        return [spec for spec in self.stacks if spec.key in chosen]


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


def stale_environment(manifest: Manifest, env_path: Path) -> bool:
    """The environment file's bytes differ from those the manifest was generated from: the
    change is not in build/ yet. False when the manifest records no digest (hand-written)."""
    if manifest.source_sha256 is None:
        return False
    return hashlib.sha256(env_path.read_bytes()).hexdigest() != manifest.source_sha256


def load(directory: Path) -> Manifest:
    path = directory / "manifest.json"
    try:
        data = json.loads(read_text(path, "the manifest"))
    except ValueError as error:
        raise ManifestError(f"{path}: cannot read it: {error}") from None
    try:
        return _parse(path, data)
    except (KeyError, TypeError, ValueError) as error:
        raise ManifestError(f"{path}: malformed ({error!r}); regenerate it") from None


def _parse(path: Path, data: dict[str, Any]) -> Manifest:
    stacks = tuple(_stack(path.parent, raw) for raw in data["stacks"])
    keys = [spec.key for spec in stacks]
    for spec in stacks:
        for name in (*spec.depends_on, *(f.stack for f in spec.parameters_from_stacks.values())):
            if name not in keys[: keys.index(spec.key)]:
                raise ValueError(f"stack {spec.key!r} depends on {name!r}, which is not before it")
    static_assets = _static_assets(data.get("static_assets"))
    if static_assets is not None and static_assets.stack not in keys:
        raise ValueError(f"static_assets are in stack {static_assets.stack!r}, which is not listed")
    manifest = Manifest(
        path=path,
        environment=data["environment"],
        source=data.get("source", ""),
        region=data["region"],
        termination_protection=bool(data["termination_protection"]),
        image=Image(data["image"]["repository_name"], str(data["image"]["tag"])),
        hosted_zone_name=(data.get("hosted_zone") or {}).get("name"),
        ssm_parameters=dict(data.get("ssm_parameters") or {}),
        stacks=stacks,
        static_assets=static_assets,
        source_sha256=_nullable(data, "source_sha256", str),
        certificate=_certificate(_nullable(data, "certificate", dict)),
        vpc=_vpc(_nullable(data, "vpc", dict)),
    )
    for spec in stacks:
        _prerequisites_described(manifest, spec)
    return manifest


def _prerequisites_described(manifest: Manifest, spec: StackSpec) -> None:
    """What a stack needs from the account is described at the top of the manifest."""
    if spec.takes_certificate and manifest.certificate is None:
        raise ValueError(f"stack {spec.key!r} takes a certificate, and no certificate is given")
    if (HOSTED_ZONE in spec.prerequisites or spec.parameters_from_hosted_zone) and not (
        manifest.hosted_zone_name
    ):
        raise ValueError(f"stack {spec.key!r} needs the hosted zone, and none is named")
    if VPC in spec.prerequisites and manifest.vpc is None:
        raise ValueError(f"stack {spec.key!r} needs the brought VPC, and no vpc is given")


T = TypeVar("T")


def _optional(raw: dict[str, Any], key: str, kind: type[T], default: T) -> T:
    """raw[key], which must be a `kind` (not null), or default when the key is absent."""
    if key not in raw:
        return default
    return _typed(raw, key, kind)


def _nullable(raw: dict[str, Any], key: str, kind: type[T]) -> T | None:
    """raw[key], a `kind` or null; None when the key is absent too."""
    if raw.get(key) is None:
        return None
    return _typed(raw, key, kind)


def _typed(raw: dict[str, Any], key: str, kind: type[T]) -> T:
    value = raw[key]
    if not isinstance(value, kind):
        raise TypeError(f"{key} must be a {kind.__name__}, not {value!r}")
    return value


def _strings(raw: dict[str, Any], key: str) -> tuple[str, ...]:
    """A list of strings; absent means empty."""
    values = _optional(raw, key, list, [])
    if not all(isinstance(value, str) for value in values):
        raise TypeError(f"{key} must be a list of strings, not {values!r}")
    return tuple(values)


def _certificate(raw: dict[str, Any] | None) -> Certificate | None:
    if raw is None:
        return None
    if "arn" not in raw:  # always written: null means "found at deploy time"
        raise KeyError("certificate.arn")
    return Certificate(_typed(raw, "domain", str), _nullable(raw, "arn", str))


def _vpc(raw: dict[str, Any] | None) -> Vpc | None:
    if raw is None:
        return None
    subnets = tuple(
        Subnet(_typed(s, "id", str), _typed(s, "availability_zone", str))
        for s in _typed(raw, "subnets", list)
    )
    if not subnets:
        raise ValueError("vpc has no subnets")
    return Vpc(_typed(raw, "id", str), subnets)


def _static_assets(raw: dict[str, Any] | None) -> StaticAssets | None:
    if raw is None:
        return None
    return StaticAssets(raw["stack"], raw["resource"], Path(raw["source"]), raw["prefix"])


def _stack(directory: Path, raw: dict[str, Any]) -> StackSpec:
    from_stacks = {
        name: _from_stack(ref) for name, ref in (raw.get("parameters_from_stacks") or {}).items()
    }
    prerequisites = _strings(raw, "prerequisites")
    unknown = sorted(set(prerequisites) - set(PREREQUISITES))
    if unknown:
        raise ValueError(f"stack {raw['key']!r}: unknown prerequisites {unknown}")
    return StackSpec(
        key=raw["key"],
        stack_name=raw["stack_name"],
        template_path=directory / raw["template"],
        depends_on=tuple(raw.get("depends_on") or ()),
        capabilities=tuple(raw.get("capabilities") or ()),
        tags={str(k): str(v) for k, v in (raw.get("tags") or {}).items()},
        parameters={str(k): str(v) for k, v in (raw.get("parameters") or {}).items()},
        parameters_from_stacks=from_stacks,
        parameters_from_env=dict(raw.get("parameters_from_env") or {}),
        parameters_from_hosted_zone=tuple(raw.get("parameters_from_hosted_zone") or ()),
        needs_image=bool(raw.get("needs_image", False)),
        parameters_from_certificate=_strings(raw, "parameters_from_certificate"),
        prerequisites=prerequisites,
        role_arn=_nullable(raw, "role_arn", str),
    )


def _from_stack(ref: dict[str, Any]) -> FromStack:
    if "output" in ref:
        return FromStack(ref["stack"], output=str(ref["output"]))
    return FromStack(ref["stack"], tuple(ref["resources"]))
