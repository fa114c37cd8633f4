"""The change-set review: built once as data, rendered as text (review_text.py), Markdown
(markdown.py) or JSON (to_dict).

Every form carries the same facts: every change (action, logical ID, type, replacement as AWS
reports it and as the resource schemas predict it, what triggers it, before -> after where
known), parameter and stack-tag changes, the risk findings (RISKY, or declared by the
template with a reason) and where to review it (the console link, on AWS).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from typing import Any
from urllib.parse import quote, urlparse

from deployer import replacement as replacements
from deployer.changeset import ChangeSet, parameter_values
from deployer.risk import Finding, declarations, findings

AWS_HOST_SUFFIXES = (".amazonaws.com", ".amazonaws.com.cn", ".api.aws")


@dataclass(frozen=True)
class ValueChange:
    path: str
    before: Any
    after: Any
    source: str  # "aws" (IncludePropertyValues) or "template" (diff of deployed vs new template)
    # A drift-aware change set's three-way comparison (Details[].Target.Drift): the value the
    # previous deployment set and the one the resource actually has; `before` is then the
    # actual one, where BeforeValueFrom says so.
    drift: dict[str, Any] | None = None


@dataclass(frozen=True)
class Row:
    action: str
    logical_id: str
    resource_type: str
    replacement: str  # what counts: AWS's Replacement, else the prediction, else ""
    triggers: list[str]
    values: list[ValueChange]
    reported_replacement: str = ""  # AWS's Replacement ("" where it, or the emulator, gives none)
    predicted: replacements.Prediction | None = None  # from the resource schema, for a Modify
    disagreement: str = ""  # AWS and the prediction differ: what each says
    replaced_with: list[str] = field(default_factory=list)  # dependents replaced along with it
    drift_status: str = ""  # a drift-aware change set's ResourceDriftStatus (MODIFIED, ...)

    @property
    def replacement_source(self) -> str:
        if self.reported_replacement:
            return "aws"
        return "predicted" if self.replacement else ""


@dataclass(frozen=True)
class Review:
    stack_name: str
    change_set_name: str
    change_set_arn: str
    change_set_type: str
    empty: bool  # nothing changes at all (no resource, parameter, output or tag change)
    rows: list[Row] = field(default_factory=list)
    parameters: list[ValueChange] = field(default_factory=list)
    tags: list[ValueChange] = field(default_factory=list)
    risks: list[Finding] = field(default_factory=list)  # RISKY: not declared by the template
    declared: list[Finding] = field(default_factory=list)  # intended, with the template's reason
    console_url: str = ""  # only where the endpoint is AWS
    endpoint: str = ""  # the CloudFormation endpoint, where it is not AWS (an emulator)
    values_missing: list[str] = field(default_factory=list)  # AWS gave no property values
    change_set_empty: bool = False  # CloudFormation found no changes (tags may still change)
    # Parameters whose upstream resource that stack's plan replaces: the new ID reaches this
    # stack only once the upstream one is deployed, and what it replaces here then.
    upstream_replaced: list[str] = field(default_factory=list)

    def replaced(self) -> set[str]:
        return {row.logical_id for row in self.rows if row.replacement == "True"}

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for row, shown in zip(self.rows, data["rows"], strict=True):
            shown["replacement_source"] = row.replacement_source
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Review:
        """The review from its JSON form (to_dict), for renderers of a JSON document."""

        def row(shown: dict[str, Any]) -> Row:
            fields = {k: v for k, v in shown.items() if k != "replacement_source"}
            predicted = fields.get("predicted")
            return Row(
                **{
                    **fields,
                    "values": [ValueChange(**v) for v in fields.get("values", [])],
                    "predicted": replacements.Prediction(
                        predicted["replacement"], tuple(predicted["because"]), predicted["reason"]
                    )
                    if predicted
                    else None,
                }
            )

        return cls(
            **{
                **data,
                "rows": [row(r) for r in data.get("rows", [])],
                "parameters": [ValueChange(**v) for v in data.get("parameters", [])],
                "tags": [ValueChange(**v) for v in data.get("tags", [])],
                "risks": [Finding(**f) for f in data.get("risks", [])],
                "declared": [Finding(**f) for f in data.get("declared", [])],
            }
        )


def is_aws_endpoint(endpoint: str | None) -> bool:
    host = urlparse(endpoint or "").hostname or ""
    return host.endswith(AWS_HOST_SUFFIXES)


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
    endpoint: str | None = None,
    tags: dict[str, str] | None = None,
    upstream: dict[str, str] | None = None,
) -> Review:
    """`endpoint`: CloudFormation's (None: AWS's own); `tags`: the stack tags to apply;
    `upstream`: parameters whose upstream resource is replaced, and what says so."""
    rows: list[Row] = []
    sides: dict[str, tuple[dict[str, Any] | None, dict[str, Any] | None]] = {}
    changes = [c["ResourceChange"] for c in change_set.changes if c.get("ResourceChange")]
    for resource in changes:
        before, after = _properties(resource, deployed_template, new_template)
        sides[resource.get("LogicalResourceId", "?")] = (before, after)
        rows.append(_row(resource, before, after, region))
    rows = _with_dependents(rows, new_template or {}, region)
    flagged: list[Finding] = []
    for resource, row in zip(changes, rows, strict=True):
        before, after = sides[row.logical_id]
        declared = declarations(new_template, row.logical_id)
        flagged.extend(findings(resource, before, after, declared, row.replacement))
    types = change_set.parameter_types
    old = parameter_values(stack, types) if stack else {}
    new = parameter_values(change_set.description, types)
    parameters = [
        ValueChange(key, old.get(key), "****" if key in no_echo else value, "aws")
        for key, value in sorted(new.items())
        if old.get(key) != value
        and not (key in no_echo and value == "****")
        and (key in old or stack is None)
    ]
    tag_changes = _tag_changes(stack, tags) if tags is not None else []
    on_aws = endpoint is None or is_aws_endpoint(endpoint)
    after_upstream = _after_upstream(upstream or {}, new_template or {}, region)
    return Review(
        stack_name=change_set.description.get("StackName", ""),
        change_set_name=change_set.name,
        change_set_arn=change_set.arn,
        change_set_type=change_set.change_set_type,
        empty=change_set.empty and not tag_changes and not after_upstream,
        rows=rows,
        parameters=parameters,
        tags=tag_changes,
        risks=[f for f in flagged if not f.declared],
        declared=[f for f in flagged if f.declared],
        console_url=console_url(region, change_set.stack_id, change_set.arn) if on_aws else "",
        endpoint="" if on_aws else str(endpoint),
        values_missing=change_set.values_missing,
        change_set_empty=change_set.empty,
        upstream_replaced=after_upstream,
    )


def _after_upstream(upstream: dict[str, str], template: dict[str, Any], region: str) -> list[str]:
    """One line per parameter whose upstream resource is replaced: what it replaces here."""
    lines = []
    following = replacements.dependents(template, set(upstream), region) if upstream else {}
    for parameter, why in sorted(upstream.items()):
        direct = [f"{dep} ({prop})" for dep, prop in following.get(parameter, [])]
        through = sorted(
            dep for parent, deps in following.items() if parent not in upstream for dep, _ in deps
        )
        then = ", ".join(direct) + (f" and, through them, {', '.join(through)}" if through else "")
        lines.append(
            f"{parameter}: {why}; once that is deployed, "
            + (f"this stack replaces {then}" if direct else "this stack updates what takes it")
        )
    return lines


def _tag_changes(stack: dict[str, Any] | None, tags: dict[str, str]) -> list[ValueChange]:
    """Stack tags that differ from the stack's (a stack being created has none to compare)."""
    if stack is None or stack.get("StackStatus") == "REVIEW_IN_PROGRESS":
        return []
    current = {t["Key"]: t["Value"] for t in stack.get("Tags", [])}
    return [
        ValueChange(key, current.get(key), tags.get(key), "aws")
        for key in sorted(set(current) | set(tags))
        if current.get(key) != tags.get(key)
    ]


def _properties(
    resource: dict[str, Any], deployed: dict[str, Any] | None, new: dict[str, Any] | None
) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """Properties before and after: the templates' (intrinsics unresolved, as the template's
    declarations are written), else AWS's BeforeContext/AfterContext."""
    logical = resource.get("LogicalResourceId", "")
    action = resource.get("Action")

    def from_context(name: str) -> dict[str, Any] | None:
        text = resource.get(name)
        if not text:
            return None
        found = json.loads(text) if isinstance(text, str) else text
        properties: dict[str, Any] = found.get("Properties", {})
        return properties

    def from_template(template: dict[str, Any] | None) -> dict[str, Any] | None:
        found = (template or {}).get("Resources", {}).get(logical)
        return found.get("Properties", {}) if found else None

    before = from_template(deployed) if action in {"Modify", "Remove"} else None
    after = from_template(new) if action in {"Add", "Modify"} else None
    return (
        before if before is not None else from_context("BeforeContext"),
        after if after is not None else from_context("AfterContext"),
    )


def _row(
    resource: dict[str, Any],
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    region: str,
) -> Row:
    kind = resource.get("ResourceType", "?")
    reported = resource.get("Replacement", "")
    predicted = None
    if resource.get("Action") == "Modify" and before is not None and after is not None:
        predicted = replacements.predict(kind, before, after, region)
    disagreement = ""
    if reported and predicted is not None and reported != predicted.replacement:
        disagreement = (
            f"AWS reports Replacement {reported}; the resource schema predicts "
            f"{predicted.replacement} ({predicted.reason}). AWS's answer counts."
        )
    effective = reported or (predicted.replacement if predicted else "")
    return Row(
        action=resource.get("Action", "?"),
        logical_id=resource.get("LogicalResourceId", "?"),
        resource_type=kind,
        replacement=effective,
        triggers=_triggers(resource),
        values=_values(resource, before, after),
        reported_replacement=reported,
        predicted=predicted,
        disagreement=disagreement,
        drift_status=resource.get("ResourceDriftStatus", ""),
    )


def _with_dependents(rows: list[Row], template: dict[str, Any], region: str) -> list[Row]:
    """A replaced resource takes along those whose create-only properties refer to it (a new
    VPC: new subnets). A dependent in the change set is marked replaced (unless AWS said
    otherwise); the others are named on the row of the resource they follow."""
    replaced = {r.logical_id for r in rows if r.replacement == "True"}
    following = replacements.dependents(template, replaced, region) if replaced else {}
    cause = {dep: (parent, prop) for parent, deps in following.items() for dep, prop in deps}
    listed = {r.logical_id for r in rows}

    def root(logical: str) -> str:  # the listed change a dependent follows, through others
        while logical in cause and logical not in listed:
            logical = cause[logical][0]
        return logical

    updated = []
    for row in rows:
        if row.logical_id in cause and row.replacement != "True" and not row.reported_replacement:
            parent, prop = cause[row.logical_id]
            prediction = replacements.Prediction(
                "True", (prop,), f"{prop} refers to {parent}, which is replaced"
            )
            row = replace(row, replacement="True", predicted=prediction)
        others = [
            f"{dep} ({prop} refers to {parent})"
            for dep, (parent, prop) in sorted(cause.items())
            if dep not in listed and root(dep) == row.logical_id
        ]
        updated.append(replace(row, replaced_with=others) if others else row)
    return updated


def _values(
    resource: dict[str, Any], before: dict[str, Any] | None, after: dict[str, Any] | None
) -> list[ValueChange]:
    values = [
        ValueChange(
            target.get("Path") or target.get("Name", "?"),
            target.get("BeforeValue"),
            target.get("AfterValue"),
            "aws",
            _drift(target),
        )
        for detail in resource.get("Details", [])
        if "BeforeValue" in (target := detail.get("Target", {}))
        or "AfterValue" in target
        or "Drift" in target
    ]
    if values or resource.get("Action") != "Modify" or before is None or after is None:
        return values
    return [
        ValueChange(f"/Properties/{key}", before.get(key), after.get(key), "template")
        for key in sorted(set(before) | set(after))
        if before.get(key) != after.get(key)
    ]


def _drift(target: dict[str, Any]) -> dict[str, Any] | None:
    """A drift-aware change set's LiveResourceDrift of one property: what the previous
    deployment set, what the resource actually has, and where `before` came from."""
    drift = target.get("Drift")
    if not drift:
        return None
    return {
        "previous": drift.get("PreviousValue"),
        "actual": drift.get("ActualValue"),
        "before_from": target.get("BeforeValueFrom", ""),
        "change": target.get("AttributeChangeType", ""),
    }


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
