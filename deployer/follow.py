"""Follow a stack operation: each new event printed once, then the verdict and its cause.

Only events since the operation's start are read (DescribeStackEvents is paged newest first,
and paging stops at the first event already seen or older than the start). Each poll is one
DescribeStackEvents call; DescribeStacks is asked when an event ends the operation, on the
first poll and every STATUS_EVERY-th one, so following costs about 24 calls a minute.

CloudFormation's reads are eventually consistent: right after ExecuteChangeSet, DescribeStacks
can still show REVIEW_IN_PROGRESS (a create) or the previous UPDATE_COMPLETE (an update). A
settled status counts only once it belongs to the operation followed. Throttling is retried
by botocore's retry mode first; if it still surfaces, we back off with jitter and keep on.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from deployer.poll import Backoff, Deadline
from deployer.status import (
    error_code,
    is_failed_event,
    is_in_progress,
    is_missing_stack,
    is_throttling,
)

Say = Callable[[str], None]
STACK_TYPE = "AWS::CloudFormation::Stack"
STATUS_EVERY = 5  # polls without an ending event between two DescribeStacks


class StillRunning(Exception):
    """The deadline passed with the operation still under way; `stack` as last read."""

    def __init__(self, stack: dict[str, Any] | None) -> None:
        super().__init__(stack["StackStatus"] if stack else "not read yet")
        self.stack = stack


class Follower:
    """Reads a stack's events from `since` on, remembering what it has printed.

    `operation` (CREATE, UPDATE, DELETE; "" when already seen running) is what the stale-read
    guard expects to see; `diagnostics` are read for each failed event as it arrives, while
    the failed resource still exists (ECS's need the cluster that a rollback deletes);
    `watch` is called after each poll, to show more of the operation than its events.
    """

    def __init__(
        self,
        cf: Any,
        stack_id: str,
        since: datetime,
        say: Say,
        backoff: Backoff,
        operation: str = "",
        diagnostics: Diagnostics | None = None,
        watch: Callable[[], None] | None = None,
    ):
        self.cf = cf
        self.stack_id = stack_id
        self.since = since
        self.say = say
        self.backoff = backoff.following()
        self.operation = operation
        self.diagnostics = diagnostics or Diagnostics(lambda: None)
        self.watch = watch or (lambda: None)  # called after each poll (rollout.py's ECS view)
        self.seen: set[str] = set()
        self.events: list[dict[str, Any]] = []  # this operation's, oldest first
        self.started = not operation  # this operation shows in the stack's events or status
        self.ending: str | None = None  # the status of the stack event that ended it
        self.last: dict[str, Any] | None = None  # the last DescribeStacks answer

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
            if _is_stack_event(event) and event["ResourceStatus"] != "REVIEW_IN_PROGRESS":
                self.started = True
                if _ends_operation(event):
                    self.ending = event["ResourceStatus"]
            if is_failed_event(event["ResourceStatus"]):
                self.diagnostics.on_failed(event)
        return fresh

    def until_settled(self, deadline: Deadline | None = None) -> dict[str, Any]:
        """Poll until the operation has ended; returns the stack's final description.
        StillRunning when `deadline` passes first."""
        from botocore.exceptions import ClientError

        delays = self.backoff.delays()
        throttled = polls = 0
        while True:
            try:
                fresh = self.new_events()
                throttled, polls = 0, polls + 1
                self.watch()
                ended = any(_ends_operation(event) for event in fresh)
                if (
                    ended
                    or self.ending is not None  # ended, the status not yet agreeing
                    or (polls == 1 and not fresh)
                    or polls % STATUS_EVERY == 0
                ):
                    stack = describe_stack(self.cf, self.stack_id)
                    self.last = stack
                    if self._settled(stack):
                        if stack is not None and self.ending is None:
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
            if deadline is not None and deadline.passed():
                raise StillRunning(self.last)
            self.backoff.sleep(next(delays))

    def _settled(self, stack: dict[str, Any] | None) -> bool:
        """The operation followed is over, as far as a possibly stale read can tell."""
        if stack is None:
            return True
        status = stack["StackStatus"]
        if is_in_progress(status):
            self.started = True
            return False
        if self.ending is not None:  # the events said how it ended: wait for the status to agree
            return status == self.ending
        return self.started or self._shows_operation(stack)

    def _shows_operation(self, stack: dict[str, Any]) -> bool:
        status = stack["StackStatus"]
        if self.operation == "CREATE":
            return status != "REVIEW_IN_PROGRESS"
        if self.operation == "DELETE":
            return status.startswith("DELETE_")
        if self.operation == "ROLLBACK":  # the failed state it starts from reads the same
            return False
        if self.operation == "UPDATE":
            updated = stack.get("LastUpdatedTime")
            return updated is not None and updated >= self.since
        return True


def _is_stack_event(event: dict[str, Any]) -> bool:
    return event.get("ResourceType") == STACK_TYPE and event.get(
        "PhysicalResourceId", event.get("StackId")
    ) == event.get("StackId")


def _ends_operation(event: dict[str, Any]) -> bool:
    return _is_stack_event(event) and not event["ResourceStatus"].endswith("_IN_PROGRESS")


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
    events: list[dict[str, Any]], stack: dict[str, Any], diagnostics: Diagnostics
) -> list[str]:
    """Root cause first, then what ECS says about failing services, then the final status.
    No diagnostic call can cost the report its root cause or its final status."""
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
    for event in events:  # a failure whose diagnostics were not read as it arrived
        diagnostics.on_failed(event)
    lines.extend(diagnostics.lines())
    lines.append(f"Stack {stack.get('StackName', '')} is now {stack['StackStatus']}.")
    return lines


class Diagnostics:
    """ECS's account of each failing service, read as soon as its failure event arrives: the
    rollback of a first create then deletes the cluster, and its events with it."""

    def __init__(self, ecs: Callable[[], Any]) -> None:
        self.ecs = ecs
        self.by_service: dict[str, list[str]] = {}
        # What a watch learnt of the failure (an ECS service deployment's root cause).
        self.notes: list[str] = []

    def on_failed(self, event: dict[str, Any]) -> None:
        arn = event.get("PhysicalResourceId", "")
        if (
            event.get("ResourceType") == "AWS::ECS::Service"
            and is_failed_event(event["ResourceStatus"])
            and arn.startswith("arn:")
            and arn not in self.by_service
        ):
            self.by_service[arn] = safe_ecs_report(self.ecs, arn)

    def lines(self) -> list[str]:
        by_service = [line for arn in sorted(self.by_service) for line in self.by_service[arn]]
        return [*self.notes, *by_service]


def safe_ecs_report(ecs: Callable[[], Any], service_arn: str) -> list[str]:
    """ecs_report, or one line saying why ECS could not tell (never an exception)."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        return ecs_report(ecs(), service_arn)
    except (ClientError, BotoCoreError) as error:
        code = error_code(error)
        name = service_arn.rsplit("/", 1)[-1]
        if code in {"ClusterNotFoundException", "ServiceNotFoundException"}:
            why = "the rollback already deleted it, and ECS's events and stopped tasks with it"
        elif code in {"AccessDeniedException", "AccessDenied"}:
            why = (
                "the deploy role may not read it (ecs:DescribeServices, ecs:ListTasks, "
                "ecs:DescribeTasks)"
            )
        else:
            why = "the diagnostic call failed"
        return [f"ECS service {name}: no diagnostics, {why} ({str(error).strip()})"]


def ecs_report(ecs: Any, service_arn: str, limit: int = 5) -> list[str]:
    """The service's latest events and why its tasks stopped (image pull, health checks...)."""
    from deployer.rollout import cluster_and_name, stopped_line, stopped_tasks

    cluster, name = cluster_and_name(service_arn)
    lines = [f"ECS service {name} in cluster {cluster}:"]
    described = ecs.describe_services(cluster=cluster, services=[service_arn])["services"]
    for event in (described[0].get("events", []) if described else [])[:limit]:
        lines.append(f"  event: {event.get('message', '')}")
    tasks = stopped_tasks(ecs, service_arn, limit=limit)
    lines.extend(f"  {stopped_line(task)}" for task in tasks)
    if not tasks:
        lines.append("  no stopped tasks recorded")
    return lines
