"""Will a Modify replace the resource? Predicted offline, from the resource schemas cfn-lint
ships (the CloudFormation registry's schemas, per region).

A property in a schema's `createOnlyProperties` cannot change in place: changing it replaces
the resource; one in `conditionalCreateOnlyProperties` may. AWS's own answer (a change's
Replacement) wins where it gives one; the review shows a disagreement. The emulator gives none,
so the prediction is what a local plan shows.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

import cfn_schemas

# Types whose replacement is their normal update: each change registers a new one.
NEW_REVISION = {
    "AWS::ECS::TaskDefinition": "a new revision is registered (the old one is deregistered)",
    "AWS::Lambda::Version": "a new version is published",
}
FALLBACK_REGION = cfn_schemas.FALLBACK_REGION


@dataclass(frozen=True)
class Prediction:
    replacement: str  # "True", "Conditional" or "False", as AWS spells Replacement
    because: tuple[str, ...]  # the create-only properties that changed
    reason: str  # one line a person reads: "CidrBlock is create-only"

    def to_dict(self) -> dict[str, Any]:
        return {
            "replacement": self.replacement,
            "because": list(self.because),
            "reason": self.reason,
        }


@dataclass(frozen=True)
class Schema:
    create_only: tuple[tuple[str, ...], ...]
    conditional: tuple[tuple[str, ...], ...]


@cache
def schema(resource_type: str, region: str = FALLBACK_REGION) -> Schema | None:
    """The type's update behaviour, or None where cfn-lint ships no schema for it."""
    document = cfn_schemas.document(resource_type, region)
    if document is None:
        return None

    def paths(key: str) -> tuple[tuple[str, ...], ...]:
        return tuple(
            tuple(p.split("/")[2:]) for p in document.get(key, []) if p.startswith("/properties/")
        )

    return Schema(paths("createOnlyProperties"), paths("conditionalCreateOnlyProperties"))


def _at(properties: dict[str, Any] | None, path: tuple[str, ...]) -> Any:
    value: Any = properties or {}
    for part in path:
        if part == "*" or not isinstance(value, dict):
            return value
        value = value.get(part)
    return value


def predict(
    resource_type: str,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    region: str = FALLBACK_REGION,
) -> Prediction | None:
    """What a Modify from `before` to `after` (Properties) does, or None without a schema."""
    found = schema(resource_type, region)
    if found is None:
        return None

    def changed(paths: tuple[tuple[str, ...], ...]) -> tuple[str, ...]:
        return tuple("/".join(p) for p in paths if _at(before, p) != _at(after, p))

    create_only = changed(found.create_only)
    if create_only:
        revision = NEW_REVISION.get(resource_type)
        names = ", ".join(create_only)
        verb = "is" if len(create_only) == 1 else "are"
        reason = f"{names} {verb} create-only"
        return Prediction("True", create_only, f"{revision}: {reason}" if revision else reason)
    conditional = changed(found.conditional)
    if conditional:
        names = ", ".join(conditional)
        return Prediction("Conditional", conditional, f"{names} may need replacement")
    return Prediction("False", (), "only properties updatable in place changed")


def references(value: Any) -> set[str]:
    """The logical IDs `value` refers to (Ref, Fn::GetAtt, ${...} in Fn::Sub)."""
    import re

    found: set[str] = set()
    if isinstance(value, dict):
        for key, inner in value.items():
            if key == "Ref" and isinstance(inner, str):
                found.add(inner)
            elif key == "Fn::GetAtt":
                first = inner[0] if isinstance(inner, list) else str(inner).split(".")[0]
                found.add(str(first))
            elif key == "Fn::Sub":
                text = inner[0] if isinstance(inner, list) else inner
                found.update(m.split(".")[0] for m in re.findall(r"\$\{([^!}][^}]*)\}", str(text)))
                if isinstance(inner, list):
                    found.update(references(inner[1:]))
            else:
                found.update(references(inner))
    elif isinstance(value, list):
        for inner in value:
            found.update(references(inner))
    return {name for name in found if not name.startswith("AWS::")}


def dependents(
    template: dict[str, Any], replaced: set[str], region: str = FALLBACK_REGION
) -> dict[str, list[tuple[str, str]]]:
    """Resources replaced along with `replaced` ones: those whose create-only properties refer
    to one (a new VPC has a new ID, so a subnet's VpcId changes), transitively. Returns, per
    replaced resource, the (dependent, property) pairs that follow it."""
    found: dict[str, list[tuple[str, str]]] = {}
    resources_ = template.get("Resources", {})
    todo = list(replaced)
    seen = set(replaced)
    while todo:
        current = todo.pop()
        for logical, resource in resources_.items():
            if logical in seen:
                continue
            known = schema(resource.get("Type", ""), region)
            if known is None:
                continue
            for path in known.create_only:
                if current in references(_at(resource.get("Properties"), path)):
                    found.setdefault(current, []).append((logical, "/".join(path)))
                    seen.add(logical)
                    todo.append(logical)
                    break
    return found
