"""Read build/<env>/manifest.json, the contract written by generate.py."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

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

    def template_body(self) -> str:
        """The template's text, read from disk once (the change set, the review and the
        outputs all use it)."""
        return self._template_body

    @cached_property
    def _template_body(self) -> str:
        try:
            return self.template_path.read_text()
        except OSError as error:
            raise ManifestError(
                f"{self.template_path}: cannot read the template: {error}"
            ) from None

    @cached_property
    def template(self) -> dict[str, Any]:
        """The template, parsed once."""
        parsed: dict[str, Any] = json.loads(self.template_body())
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


def load(directory: Path) -> Manifest:
    path = directory / "manifest.json"
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise ManifestError(
            f"{path} does not exist: generate the templates first (make templates ENV=...)"
        ) from None
    except (OSError, ValueError) as error:
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
    return Manifest(
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
    )


def _static_assets(raw: dict[str, Any] | None) -> StaticAssets | None:
    if raw is None:
        return None
    return StaticAssets(raw["stack"], raw["resource"], Path(raw["source"]), raw["prefix"])


def _stack(directory: Path, raw: dict[str, Any]) -> StackSpec:
    from_stacks = {
        name: _from_stack(ref) for name, ref in (raw.get("parameters_from_stacks") or {}).items()
    }
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
    )


def _from_stack(ref: dict[str, Any]) -> FromStack:
    if "output" in ref:
        return FromStack(ref["stack"], output=str(ref["output"]))
    return FromStack(ref["stack"], tuple(ref["resources"]))
