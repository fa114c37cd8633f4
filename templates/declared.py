"""Exposures a template makes on purpose, declared beside the resource that makes them.

The change-set review flags whatever widens access (a security-group rule, a role's trust, a
policy statement). What a template means to expose (the public load balancer's 80 and 443, the
task roles' trust of ecs-tasks) is declared here, with the reason, in the resource's Metadata,
where the checkov skips live too. The review then shows it as *declared*, one line with the
reason, and keeps RISKY for anything that widens access and matches no declaration:

    declare(
        alb_sg,
        inbound(443, ANYWHERE, "HTTPS from anywhere: the service is public"),
        outbound(contract.PORT, service_sg.ref(), "to the service tasks only"),
    )

A declaration is a key precise enough to match one rule or statement: direction, protocol,
port and peer for a rule; the principal (and the actions) for a grant. An SSH rule added to
the same group, or one more action granted to the same principal, matches none and is flagged.
Values may be troposphere references (`sg.ref()`, `Join(...)`): the review renders both sides
the same way before it compares them.
"""

from __future__ import annotations

from typing import Any

from troposphere import BaseAWSObject

# The Metadata key the deployer's review reads (deployer/risk.py: DECLARED_KEY).
METADATA_KEY = "DeclaredExposures"
Exposure = dict[str, Any]


def declare(resource: BaseAWSObject, *exposures: Exposure) -> None:
    """Add the exposures to the resource's Metadata, beside what is there (checkov's skips)."""
    metadata = dict(resource.resource.get("Metadata") or {})
    metadata[METADATA_KEY] = [*metadata.get(METADATA_KEY, []), *exposures]
    resource.Metadata = metadata


def _ports(port: int | tuple[int, int] | None) -> str:
    if port is None:
        return "all"
    if isinstance(port, tuple):
        return f"{port[0]}-{port[1]}" if port[0] != port[1] else str(port[0])
    return str(port)


def inbound(
    port: int | tuple[int, int] | None, source: object, reason: str, protocol: str = "tcp"
) -> Exposure:
    """An ingress rule: `port` (or a (from, to) range; None: all) from `source` (a CIDR, a
    security group's ref, a prefix list)."""
    return {
        "Kind": "ingress",
        "Protocol": protocol,
        "Ports": _ports(port),
        "Peer": source,
        "Reason": reason,
    }


def outbound(
    port: int | tuple[int, int] | None, destination: object, reason: str, protocol: str = "tcp"
) -> Exposure:
    """An egress rule: `port` to `destination`."""
    return {
        "Kind": "egress",
        "Protocol": protocol,
        "Ports": _ports(port),
        "Peer": destination,
        "Reason": reason,
    }


def trusts(principal: object, reason: str) -> Exposure:
    """A role's trust policy lets `principal` (a service name, an account's ARN) assume it."""
    return {"Kind": "trust", "Principal": principal, "Reason": reason}


def grants(principal: object, reason: str, actions: list[Any] | None = None) -> Exposure:
    """A resource policy (bucket, key, topic, repository) allows `principal` (a service name,
    an ARN, "*") what it says; with `actions`, only those actions."""
    declared: Exposure = {"Kind": "grant", "Principal": principal, "Reason": reason}
    if actions is not None:
        declared["Actions"] = _names(actions)
    return declared


def permits(actions: list[Any], reason: str, resources: list[object] | None = None) -> Exposure:
    """An identity policy allows these actions. Without `resources`, on any resource named in
    the statement except "*": a statement on "*" must be declared with resources=["*"]."""
    declared: Exposure = {"Kind": "permission", "Actions": _names(actions), "Reason": reason}
    if resources is not None:
        declared["Resources"] = resources
    return declared


def public_access(reason: str) -> Exposure:
    """A bucket whose public access block is (partly) off, on purpose."""
    return {"Kind": "public-access", "Reason": reason}


def _names(actions: list[Any]) -> list[str]:
    """Action names ("kms:Decrypt"), from awacs actions or strings."""
    return [a.JSONrepr() if hasattr(a, "JSONrepr") else str(a) for a in actions]
