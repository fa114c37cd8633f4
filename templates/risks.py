"""Accepted risks, declared beside the resource that carries them.

A reviewer's tool (cfn-guard, cfripper, checkov) flags what a resource allows; some of it is
meant. Each such resource says so in its Metadata under ACCEPTED_RISKS: what is allowed and why
it stays, next to the checkov skips where checkov flags the same thing. A resource whose risk
depends on the environment (the tasks' egress, public or private) declares it only where the
environment takes it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

ACCEPTED_RISKS = "AcceptedRisks"


@dataclass(frozen=True)
class Risk:
    risk: str  # what the resource allows that a reviewer would flag
    reason: str  # why it stays

    def to_dict(self) -> dict[str, str]:
        return {"Risk": self.risk, "Reason": self.reason}


def declared(*risks: Risk, metadata: dict[str, Any] | None = None) -> dict[str, Any]:
    """`metadata` (say, checkov's skips) with `risks` declared in it."""
    return {**(metadata or {}), ACCEPTED_RISKS: [risk.to_dict() for risk in risks]}
