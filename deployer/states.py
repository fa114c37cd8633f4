"""What a stack's settled state asks of the next deploy, as AWS documents each state.

- ROLLBACK_COMPLETE, ROLLBACK_FAILED: a first create failed (and its rollback, for the second);
  the stack can only be deleted, then created again.
- DELETE_FAILED: a delete left resources behind; the stack can only be deleted again.
- REVIEW_IN_PROGRESS after an execution was attempted: a create that never completed.
- UPDATE_ROLLBACK_FAILED: an update failed and so did its rollback; only ContinueUpdateRollback
  (after fixing the cause, or skipping the resources that cannot roll back) moves it on.
"""

from __future__ import annotations

from typing import Any

from deployer.status import DELETE_FAILED, FAILED_CREATES, ROLLBACK_STUCK, is_failed_event


def must_delete(cf: Any, stack: dict[str, Any] | None) -> str | None:
    """Why the stack must be deleted before it can be created again, or None."""
    if stack is None:
        return None
    status = stack["StackStatus"]
    if status in FAILED_CREATES:
        return f"is {status}: its first create failed and was rolled back" + (
            ", and the rollback failed too" if status != "ROLLBACK_COMPLETE" else ""
        )
    if status == DELETE_FAILED:
        return f"is {status}: a delete left resources behind ({stack.get('StackStatusReason', '')})"
    if status != "REVIEW_IN_PROGRESS":
        return None
    events = cf.describe_stack_events(StackName=stack["StackId"])["StackEvents"]
    if any(e["ResourceStatus"] != "REVIEW_IN_PROGRESS" for e in events):
        return f"is {status} after a create that did not complete"
    return None


def rollback_stuck(stack: dict[str, Any] | None) -> bool:
    return stack is not None and stack["StackStatus"] in ROLLBACK_STUCK


def failed_resources(events: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """(logical ID, reason) of each resource whose last event in `events` failed."""
    last: dict[str, dict[str, Any]] = {}
    for event in events:  # oldest first
        if event.get("LogicalResourceId") != event.get("StackName"):
            last[event.get("LogicalResourceId", "?")] = event
    return [
        (logical, event.get("ResourceStatusReason", "no reason given"))
        for logical, event in last.items()
        if is_failed_event(event["ResourceStatus"])
    ]
