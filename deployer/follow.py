"""Follow a stack operation: each new event printed once, then the verdict and its cause.

Only events since this deploy's start are read (DescribeStackEvents is paged newest first, and
paging stops at the first event already seen or older than the start). Throttling is retried by
botocore's retry mode first; if it still surfaces, we back off with jitter and keep following.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from deployer.poll import Backoff
from deployer.status import is_failed_event, is_in_progress, is_missing_stack, is_throttling

Say = Callable[[str], None]
STACK_TYPE = "AWS::CloudFormation::Stack"


class Follower:
    """Reads a stack's events from `since` on, remembering what it has printed."""

    def __init__(self, cf: Any, stack_id: str, since: datetime, say: Say, backoff: Backoff):
        self.cf = cf
        self.stack_id = stack_id
        self.since = since
        self.say = say
        self.backoff = backoff
        self.seen: set[str] = set()
        self.events: list[dict[str, Any]] = []  # this deploy's, oldest first

    def new_events(self) -> list[dict[str, Any]]:
        """Pages newest first, stopping at the first event seen or older than the start.

        NextToken by hand: a botocore paginator would load the paginator models (and list
        every service's data directory) for one loop, ~35 ms of a deploy."""
        fresh: list[dict[str, Any]] = []
        request = {"StackName": self.stack_id}
        while True:
            page = self.cf.describe_stack_events(**request)
            for event in page["StackEvents"]:
                if event["EventId"] in self.seen or event["Timestamp"] < self.since:
                    return self._record(fresh)
                fresh.append(event)
            if not page.get("NextToken"):
                return self._record(fresh)
            request["NextToken"] = page["NextToken"]

    def _record(self, fresh: list[dict[str, Any]]) -> list[dict[str, Any]]:
        fresh.reverse()
        for event in fresh:
            self.seen.add(event["EventId"])
            self.events.append(event)
            self.say(event_line(event))
        return fresh

    def until_settled(self) -> dict[str, Any]:
        """Poll until the stack is no longer in progress; returns its final description."""
        from botocore.exceptions import ClientError

        delays = self.backoff.delays()
        throttled = 0
        while True:
            try:
                fresh = self.new_events()
                throttled = 0
                ended = any(_ends_operation(event) for event in fresh)
                if fresh and not ended:
                    self.backoff.sleep(next(delays))
                    continue
                stack = describe_stack(self.cf, self.stack_id)
                if stack is None or not is_in_progress(stack["StackStatus"]):
                    if stack is not None and not ended:
                        self.new_events()  # the last few, if they landed after our read
                    return stack or {"StackStatus": "DELETE_COMPLETE", "StackId": self.stack_id}
            except ClientError as error:
                if not is_throttling(error):
                    raise
                throttled += 1
                delay = self.backoff.throttled(throttled)
                self.say(f"  (throttled by CloudFormation: waiting {delay:.1f} s, then going on)")
                self.backoff.sleep(delay)
                continue
            self.backoff.sleep(next(delays))


def _ends_operation(event: dict[str, Any]) -> bool:
    return (
        event.get("ResourceType") == STACK_TYPE
        and event.get("PhysicalResourceId", event.get("StackId")) == event.get("StackId")
        and not event["ResourceStatus"].endswith("_IN_PROGRESS")
    )


def describe_stack(cf: Any, stack: str) -> dict[str, Any] | None:
    """The stack's description, or None when it does not exist."""
    from botocore.exceptions import ClientError

    try:
        return cf.describe_stacks(StackName=stack)["Stacks"][0]
    except ClientError as error:
        if is_missing_stack(error):
            return None
        raise


def event_line(event: dict[str, Any]) -> str:
    when = event["Timestamp"].strftime("%H:%M:%S")
    reason = event.get("ResourceStatusReason", "")
    return (
        f"  {when}  {event['ResourceStatus']:<30} {event.get('LogicalResourceId', ''):<28} "
        f"{event.get('ResourceType', '')}" + (f"  {reason}" if reason else "")
    ).rstrip()


def root_cause(events: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The first *_FAILED event of this deploy: the rest usually follow from it."""
    return next((e for e in events if is_failed_event(e["ResourceStatus"])), None)


def failure_report(
    events: list[dict[str, Any]], stack: dict[str, Any], ecs: Callable[[], Any]
) -> list[str]:
    """Root cause first, then what ECS says about failing services, then the final status."""
    lines: list[str] = []
    cause = root_cause(events)
    if cause:
        lines.append(
            f"Root cause: {cause.get('LogicalResourceId')} ({cause.get('ResourceType')}) "
            f"{cause['ResourceStatus']}: {cause.get('ResourceStatusReason', 'no reason given')}"
        )
    else:
        reason = stack.get("StackStatusReason")
        lines.append(f"Root cause: none of this deploy's events failed; stack says: {reason}")
    services = {
        e["PhysicalResourceId"]
        for e in events
        if e.get("ResourceType") == "AWS::ECS::Service"
        and is_failed_event(e["ResourceStatus"])
        and e.get("PhysicalResourceId", "").startswith("arn:")
    }
    for service_arn in sorted(services):
        lines.extend(ecs_report(ecs(), service_arn))
    lines.append(f"Stack {stack.get('StackName', '')} is now {stack['StackStatus']}.")
    return lines


def ecs_report(ecs: Any, service_arn: str, limit: int = 5) -> list[str]:
    """The service's latest events and why its tasks stopped (image pull, health checks...)."""
    parts = service_arn.split(":")[-1].split("/")  # service/<cluster>/<name>
    cluster, name = (parts[1], parts[2]) if len(parts) == 3 else ("default", parts[-1])
    lines = [f"ECS service {name} in cluster {cluster}:"]
    described = ecs.describe_services(cluster=cluster, services=[service_arn])["services"]
    for event in (described[0].get("events", []) if described else [])[:limit]:
        lines.append(f"  event: {event.get('message', '')}")
    stopped = ecs.list_tasks(cluster=cluster, serviceName=name, desiredStatus="STOPPED")
    arns = stopped.get("taskArns", [])[:limit]
    tasks = ecs.describe_tasks(cluster=cluster, tasks=arns)["tasks"] if arns else []
    for task in tasks:
        containers = "; ".join(
            f"{c.get('name')}: {c.get('reason') or 'exit ' + str(c.get('exitCode'))}"
            for c in task.get("containers", [])
        )
        lines.append(
            f"  stopped task {task['taskArn'].rsplit('/', 1)[-1]}: "
            f"{task.get('stoppedReason', '?')}" + (f" ({containers})" if containers else "")
        )
    if not tasks:
        lines.append("  no stopped tasks recorded")
    return lines
