"""The change-set review: built once as data, rendered as a text table or as JSON.

Both forms carry the same facts: every change (action, logical ID, type, replacement, what
triggers it, before -> after where known), parameter changes, risk flags and the console link.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import quote

from deployer.changeset import ChangeSet, parameter_values
from deployer.risk import risks


@dataclass(frozen=True)
class ValueChange:
    path: str
    before: Any
    after: Any
    source: str  # "aws" (IncludePropertyValues) or "template" (diff of deployed vs new template)


@dataclass(frozen=True)
class Row:
    action: str
    logical_id: str
    resource_type: str
    replacement: str  # True / Conditional / False, or "" where AWS (or the emulator) gives none
    triggers: list[str]
    values: list[ValueChange]


@dataclass(frozen=True)
class Review:
    stack_name: str
    change_set_name: str
    change_set_arn: str
    change_set_type: str
    empty: bool
    rows: list[Row] = field(default_factory=list)
    parameters: list[ValueChange] = field(default_factory=list)
    risks: list[str] = field(default_factory=list)
    console_url: str = ""
    values_missing: list[str] = field(default_factory=list)  # AWS gave no property values

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def console_url(region: str, stack_id: str, change_set_arn: str) -> str:
    return (
        f"https://{region}.console.aws.amazon.com/cloudformation/home?region={region}"
        f"#/stacks/changesets/changes?stackId={quote(stack_id, safe='')}"
        f"&changeSetId={quote(change_set_arn, safe='')}"
    )


def build(
    change_set: ChangeSet,
    region: str,
    stack: dict[str, Any] | None,
    no_echo: set[str],
    deployed_template: dict[str, Any] | None = None,
    new_template: dict[str, Any] | None = None,
) -> Review:
    types = change_set.parameter_types
    rows: list[Row] = []
    flagged: list[str] = []
    for change in change_set.changes:
        resource = change.get("ResourceChange")
        if not resource:
            continue
        before, after = _contexts(resource, deployed_template, new_template)
        values = _values(resource, before, after)
        rows.append(
            Row(
                action=resource.get("Action", "?"),
                logical_id=resource.get("LogicalResourceId", "?"),
                resource_type=resource.get("ResourceType", "?"),
                replacement=resource.get("Replacement", ""),
                triggers=_triggers(resource),
                values=values,
            )
        )
        flagged.extend(risks(resource, before, after))
    old = parameter_values(stack, types) if stack else {}
    new = parameter_values(change_set.description, types)
    parameters = [
        ValueChange(key, old.get(key), "****" if key in no_echo else value, "aws")
        for key, value in sorted(new.items())
        if old.get(key) != value
        and not (key in no_echo and value == "****")
        and (key in old or stack is None)
    ]
    return Review(
        stack_name=change_set.description.get("StackName", ""),
        change_set_name=change_set.name,
        change_set_arn=change_set.arn,
        change_set_type=change_set.change_set_type,
        empty=change_set.empty,
        rows=rows,
        parameters=parameters,
        risks=flagged,
        console_url=console_url(region, change_set.stack_id, change_set.arn),
        values_missing=change_set.values_missing,
    )


def _contexts(
    resource: dict[str, Any], deployed: dict[str, Any] | None, new: dict[str, Any] | None
) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """Properties before and after: AWS's BeforeContext/AfterContext, else the templates'."""
    logical = resource.get("LogicalResourceId", "")

    def from_context(name: str) -> dict[str, Any] | None:
        text = resource.get(name)
        if not text:
            return None
        return (json.loads(text) if isinstance(text, str) else text).get("Properties", {})

    def from_template(template: dict[str, Any] | None) -> dict[str, Any] | None:
        found = (template or {}).get("Resources", {}).get(logical)
        return found.get("Properties", {}) if found else None

    before = from_context("BeforeContext")
    after = from_context("AfterContext")
    if before is None and after is None:
        action = resource.get("Action")
        before = from_template(deployed) if action in {"Modify", "Remove"} else None
        after = from_template(new) if action in {"Add", "Modify"} else None
    return before, after


def _values(
    resource: dict[str, Any], before: dict[str, Any] | None, after: dict[str, Any] | None
) -> list[ValueChange]:
    values = [
        ValueChange(
            target.get("Path") or target.get("Name", "?"),
            target.get("BeforeValue"),
            target.get("AfterValue"),
            "aws",
        )
        for detail in resource.get("Details", [])
        if "BeforeValue" in (target := detail.get("Target", {})) or "AfterValue" in target
    ]
    if values or resource.get("Action") != "Modify" or before is None or after is None:
        return values
    return [
        ValueChange(f"/Properties/{key}", before.get(key), after.get(key), "template")
        for key in sorted(set(before) | set(after))
        if before.get(key) != after.get(key)
    ]


def _triggers(resource: dict[str, Any]) -> list[str]:
    found: list[str] = []
    for detail in resource.get("Details", []):
        target = detail.get("Target", {})
        what = ".".join(p for p in (target.get("Attribute"), target.get("Name")) if p)
        source = detail.get("ChangeSource", "")
        cause = detail.get("CausingEntity")
        recreate = target.get("RequiresRecreation")
        text = what or source
        if source and what:
            text += f" ({source}{': ' + cause if cause else ''})"
        if recreate and recreate != "Never":
            text += f" [recreation: {recreate}]"
        if text and text not in found:
            found.append(text)
    return found


# ---- rendering ---------------------------------------------------------------------------


def render_text(review: Review) -> str:
    lines = [
        f"Stack {review.stack_name}: {review.change_set_type} change set {review.change_set_name}"
    ]
    if review.empty:
        return lines[0] + ": no changes"
    if review.risks:
        lines.append("RISKY CHANGES (read these before approving):")
        lines.extend(f"  ! {risk}" for risk in review.risks)
    header = ("Action", "Logical ID", "Type", "Replacement", "Triggered by")
    table = [
        (
            row.action,
            row.logical_id,
            row.resource_type,
            row.replacement or "-",
            ", ".join(row.triggers) or "-",
        )
        for row in review.rows
    ]
    widths = [max(len(r[i]) for r in [header, *table]) for i in range(len(header) - 1)]
    for number, cells in enumerate([header, *table]):
        lines.append(
            "  "
            + "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=False))
            + "  "
            + cells[-1]
        )
        if number:
            row = review.rows[number - 1]
            lines.extend(
                f"      {v.path}: {_short(v.before)} -> {_short(v.after)}"
                + ("  (template values)" if v.source == "template" else "")
                for v in row.values
            )
    if review.values_missing:
        lines.append(
            f"  (AWS gave no property values for {', '.join(review.values_missing)}: "
            "IncludePropertyValues leaves some changes out; their values above, if any, "
            "come from the deployed and new templates)"
        )
    if not review.rows:
        lines.append(
            "  (no resource changes: the stack's outputs, parameters or tags change, and "
            "executing it updates them)"
        )
    if review.parameters:
        lines.append("Parameters:")
        lines.extend(
            f"  {p.path}: {_short(p.before)} -> {_short(p.after)}" for p in review.parameters
        )
    lines.append(f"Review in the console: {review.console_url}")
    return "\n".join(lines)


def _short(value: Any) -> str:
    if value is None:
        return "(none)"
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    return text if len(text) <= 100 else text[:97] + "..."
