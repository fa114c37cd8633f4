"""Accepted risks, declared beside the resource that carries them.

A reviewer's tool (cfn-guard, cfripper, checkov) flags what a resource allows; some of it is
meant. Each such resource says so in its Metadata under ACCEPTED_RISKS: what is allowed and why
it stays. Where checkov flags the same thing, its skip is written from the same declaration,
with the same reason, so the two cannot drift apart. A resource whose risk depends on the
environment (the tasks' egress, public or private) declares it only where the environment
takes it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

ACCEPTED_RISKS = "AcceptedRisks"


@dataclass(frozen=True)
class Risk:
    risk: str  # what the resource allows that a reviewer would flag
    reason: str  # why it stays
    checkov: tuple[str, ...] = ()  # the checkov checks that flag it, skipped with the reason

    def to_dict(self) -> dict[str, str]:
        return {"Risk": self.risk, "Reason": self.reason}


def declared(*risks: Risk) -> dict[str, Any]:
    """A resource's Metadata declaring `risks`, with checkov's skips for those it flags."""
    metadata: dict[str, Any] = {ACCEPTED_RISKS: [risk.to_dict() for risk in risks]}
    skips = [{"id": check, "comment": risk.reason} for risk in risks for check in risk.checkov]
    if skips:
        metadata["checkov"] = {"skip": skips}
    return metadata
