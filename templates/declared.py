"""Risks a template accepts on purpose, declared beside the resource that carries them.

The change-set review flags whatever widens access (a security-group rule, a role's trust, a
policy statement); checkov and other reviewers' tools flag what a resource allows. What a
template means to allow (the public load balancer's 80 and 443, the task roles' trust of
ecs-tasks, a distribution without a WAF) is declared here, with the reason, under one Metadata
key (accepted.METADATA_KEY). From it come checkov's skips (with the same reason), the review's
*declared* lines (anything that widens access and matches no declaration stays RISKY) and the
README's list of accepted risks (`make accepted-risks`):

    declare(
        alb_sg,
        inbound(80, ANYWHERE, "HTTP, answered with a redirect", checkov=("CKV_AWS_260",)),
        outbound(contract.PORT, service_sg.ref(), "to the service tasks only"),
    )
    declare(distribution, accepts("No WAF web ACL", "why it stays", checkov=("CKV_AWS_68",)))

A declaration is a key precise enough to match one rule or statement: direction, protocol,
port and peer for a rule; the principal (and the actions) for a grant. An SSH rule added to
the same group, or one more action granted to the same principal, matches none and is flagged.
Values may be troposphere references (`sg.ref()`, `Join(...)`): the review renders both sides
the same way before it compares them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from troposphere import BaseAWSObject, Template

from accepted import ACCEPTED, METADATA_KEY, describe, entries

Exposure = dict[str, Any]
CHECKOV = "checkov"  # the Metadata key checkov reads its skips from


def declare(resource: BaseAWSObject, *exposures: Exposure) -> None:
    """Add the declarations to the resource's Metadata, and checkov's skips derived from all
    of them (each with its declaration's reason)."""
    metadata = dict(resource.resource.get("Metadata") or {})
    declared = [*metadata.get(METADATA_KEY, []), *exposures]
    metadata[METADATA_KEY] = declared
    skips = [
        {"id": check, "comment": entry["Reason"]}
        for entry in declared
        for check in entry.get("Checkov", [])
    ]
    if skips:
        metadata[CHECKOV] = {"skip": skips}
    resource.Metadata = metadata


def _with(exposure: Exposure, checkov: Sequence[str]) -> Exposure:
    """The declaration, with the checkov checks it answers (skipped with its reason)."""
    return {**exposure, "Checkov": list(checkov)} if checkov else exposure


def accepts(risk: str, reason: str, checkov: Sequence[str] = ()) -> Exposure:
    """A risk that is no exposure a change could widen (no WAF, a key policy's root
    statement): `risk` says what a reviewer would flag, `reason` why it stays."""
    return _with({"Kind": ACCEPTED, "Risk": risk, "Reason": reason}, checkov)


def _ports(port: int | tuple[int, int] | None) -> str:
    if port is None:
        return "all"
    if isinstance(port, tuple):
        return f"{port[0]}-{port[1]}" if port[0] != port[1] else str(port[0])
    return str(port)


def inbound(
    port: int | tuple[int, int] | None,
    source: object,
    reason: str,
    protocol: str = "tcp",
    checkov: Sequence[str] = (),
) -> Exposure:
    """An ingress rule: `port` (or a (from, to) range; None: all) from `source` (a CIDR, a
    security group's ref, a prefix list)."""
    exposure = {
        "Kind": "ingress",
        "Protocol": protocol,
        "Ports": _ports(port),
        "Peer": source,
        "Reason": reason,
    }
    return _with(exposure, checkov)


def outbound(
    port: int | tuple[int, int] | None,
    destination: object,
    reason: str,
    protocol: str = "tcp",
    checkov: Sequence[str] = (),
) -> Exposure:
    """An egress rule: `port` to `destination`."""
    exposure = {
        "Kind": "egress",
        "Protocol": protocol,
        "Ports": _ports(port),
        "Peer": destination,
        "Reason": reason,
    }
    return _with(exposure, checkov)


def trusts(principal: object, reason: str, checkov: Sequence[str] = ()) -> Exposure:
    """A role's trust policy lets `principal` (a service name, an account's ARN) assume it."""
    return _with({"Kind": "trust", "Principal": principal, "Reason": reason}, checkov)


def grants(
    principal: object,
    reason: str,
    actions: list[Any] | None = None,
    checkov: Sequence[str] = (),
) -> Exposure:
    """A resource policy (bucket, key, topic, repository) allows `principal` (a service name,
    an ARN, "*") what it says; with `actions`, only those actions."""
    declared: Exposure = {"Kind": "grant", "Principal": principal, "Reason": reason}
    if actions is not None:
        declared["Actions"] = _names(actions)
    return _with(declared, checkov)


def permits(
    actions: list[Any],
    reason: str,
    resources: list[object] | None = None,
    checkov: Sequence[str] = (),
) -> Exposure:
    """An identity policy allows these actions. Without `resources`, on any resource named in
    the statement except "*": a statement on "*" must be declared with resources=["*"]."""
    declared: Exposure = {"Kind": "permission", "Actions": _names(actions), "Reason": reason}
    if resources is not None:
        declared["Resources"] = resources
    return _with(declared, checkov)


def public_access(reason: str, checkov: Sequence[str] = ()) -> Exposure:
    """A bucket whose public access block is (partly) off, on purpose."""
    return _with({"Kind": "public-access", "Reason": reason}, checkov)


def _names(actions: list[Any]) -> list[str]:
    """Action names ("kms:Decrypt"), from awacs actions or strings."""
    return [a.JSONrepr() if hasattr(a, "JSONrepr") else str(a) for a in actions]


def accepted_risks(templates: Iterable[tuple[str, Template | dict[str, Any]]]) -> list[str]:
    """The README's list: one line per declaration of the (stack key, template) pairs, in
    order, each said once: `stack` `Resource`: what it allows -- why."""
    lines: list[str] = []
    for key, template in templates:
        found = template.to_dict() if isinstance(template, Template) else template
        for logical_id, resource in found.get("Resources", {}).items():
            for entry in entries(resource):
                line = f"- `{key}` `{logical_id}`: {describe(entry)} -- {entry.get('Reason', '')}"
                if line not in lines:
                    lines.append(line)
    return lines
