"""The ECS deployment behind a service stack's create or update, shown while CloudFormation
works on it: the rollout state, running / pending / desired tasks, and each failed task with
the reason ECS stopped it.

CloudFormation's events say only that the service is UPDATE_IN_PROGRESS for as long as ECS
rolls out (minutes); DescribeServices says how far it got. The deployment followed is the
PRIMARY one (the newest); the ACTIVE ones are the tasks it replaces. A task the deployment
started carries its ID as `startedBy`, which is how its stopped tasks are told apart.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, TextIO

from deployer.status import error_line

SERVICE_TYPE = "AWS::ECS::Service"
# Polls between two looks for the service while the stack has not created it yet: each look
# is a DescribeStackResources, on top of the follower's own CloudFormation calls.
FIND_EVERY = 5
Say = Callable[[str], None]


@dataclass(frozen=True)
class Rollout:
    service: str  # the service's name
    deployment: str  # the PRIMARY deployment's ID (ecs-svc/...)
    state: str  # rolloutState: IN_PROGRESS, COMPLETED or FAILED; "" where ECS gives none
    reason: str  # rolloutStateReason
    running: int
    pending: int
    desired: int
    failed: int  # failedTasks: consecutive failures, what the circuit breaker counts
    replaced: int  # tasks still running for the deployments this one replaces
    task_definition: str
    # The service's own desiredCount and runningCount (None where not read): UpdateService
    # changes the service's at once, and ECS then the deployment's. Where they disagree the
    # line says both, rather than a deployment's count that reads as all is well.
    service_desired: int | None = None
    service_running: int | None = None

    def line(self) -> str:
        older = f", {self.replaced} old still running" if self.replaced else ""
        # ECS never counts a negative pending; an emulator that runs no task may (moto: a
        # service created without DesiredCount wants 0 and counts 1 running).
        pending = (
            f"{self.pending} pending"
            if self.pending >= 0
            else f"pending {self.pending} (counts no ECS gives: an emulator's)"
        )
        return (
            f"rollout {self.state or 'state unknown'}: {self.running}/{self.desired} running, "
            f"{pending}, {self.failed} failed{older} ({self.deployment})" + self.disagreement()
        )

    def disagreement(self) -> str:
        if self.service_desired is None or self.service_desired == self.desired:
            return ""
        return (
            f"; but the service wants {self.service_desired} tasks and counts "
            f"{self.service_running} running: the deployment's counts were not updated after "
            "the desired count changed (an emulator that runs no deployment keeps them as "
            "created; on AWS, ECS catches up within seconds)"
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def cluster_and_name(service_arn: str) -> tuple[str, str]:
    """A service ARN's cluster and name (arn:...:service/<cluster>/<name>); the old format,
    without the cluster, is in the default cluster."""
    parts = service_arn.split(":")[-1].split("/")
    return (parts[1], parts[2]) if len(parts) == 3 else ("default", parts[-1])


def service_logical_ids(template: dict[str, Any]) -> list[str]:
    return sorted(
        name
        for name, resource in template.get("Resources", {}).items()
        if resource.get("Type") == SERVICE_TYPE
    )


def read(ecs: Any, service_arn: str) -> Rollout | None:
    """The service's PRIMARY deployment as DescribeServices gives it; None if ECS has none."""
    cluster, name = cluster_and_name(service_arn)
    found = ecs.describe_services(cluster=cluster, services=[service_arn])["services"]
    deployments = found[0].get("deployments", []) if found else []
    primary = next((d for d in deployments if d.get("status") == "PRIMARY"), None)
    if primary is None:
        return None
    return Rollout(
        service=name,
        deployment=primary.get("id", "?"),
        state=primary.get("rolloutState", ""),
        reason=primary.get("rolloutStateReason", ""),
        running=primary.get("runningCount", 0),
        pending=primary.get("pendingCount", 0),
        desired=primary.get("desiredCount", 0),
        failed=primary.get("failedTasks", 0),
        replaced=sum(d.get("runningCount", 0) for d in deployments if d is not primary),
        task_definition=primary.get("taskDefinition", ""),
        service_desired=found[0].get("desiredCount"),
        service_running=found[0].get("runningCount"),
    )


def stopped_line(task: dict[str, Any]) -> str:
    """A stopped task, why ECS stopped it, and each container's reason or exit code."""
    containers = "; ".join(
        f"{c.get('name')}: {c.get('reason') or 'exit ' + str(c.get('exitCode'))}"
        for c in task.get("containers", [])
    )
    return (
        f"stopped task {task['taskArn'].rsplit('/', 1)[-1]}: {task.get('stoppedReason', '?')}"
        + (f" ({containers})" if containers else "")
    )


def stopped_tasks(
    ecs: Any, service_arn: str, started_by: str | None = None, limit: int = 5
) -> list[dict[str, Any]]:
    """The service's latest stopped tasks (ECS keeps them about an hour), only those the
    deployment `started_by` started when given."""
    cluster, name = cluster_and_name(service_arn)
    listed = ecs.list_tasks(cluster=cluster, serviceName=name, desiredStatus="STOPPED")
    arns = listed.get("taskArns", [])[:100]  # DescribeTasks takes at most 100
    tasks = ecs.describe_tasks(cluster=cluster, tasks=arns)["tasks"] if arns else []
    if started_by is not None:
        tasks = [t for t in tasks if t.get("startedBy") == started_by]
    return tasks[:limit]


class Watch:
    """Follows the service's rollout beside the stack's events, once per poll of the follower.

    On a terminal the rollout is one line redrawn in place: each event line clears it first
    and it is drawn again after. Elsewhere (CI logs, a pipe) a plain line is printed each time
    the rollout changes. A failed task is printed once, with its stopped reason. ECS being
    unreadable is said once and never stops the follow."""

    def __init__(
        self,
        ecs: Callable[[], Any],
        find_service: Callable[[], str | None],
        say: Say,
        terminal: TextIO | None,
    ) -> None:
        self.ecs = ecs
        self.find_service = find_service
        self.out = say
        self.terminal = terminal
        self.service_arn: str | None = None
        self.last: Rollout | None = None
        self.shown = ""  # the progress line on the terminal now, "" when none
        self.seen_tasks: set[str] = set()
        self.unreadable = False
        self.polls = 0

    def say(self, line: str) -> None:
        """The follower's lines: above the progress line, which stays last."""
        shown = self.shown
        self._clear()
        self.out(line)
        if shown:
            self._draw(shown)

    def poll(self) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self._poll()
        except (ClientError, BotoCoreError) as error:
            if not self.unreadable:
                self.unreadable = True
                why = error_line(error)
                self.say(f"  (rollout: ECS could not be read, following the stack only: {why})")

    def _poll(self) -> None:
        self.polls += 1
        if self.service_arn is None:
            if self.polls % FIND_EVERY != 1:  # a create makes the service late: ask now and then
                return
            self.service_arn = self.find_service()
            if self.service_arn is None:  # not created yet
                return
        rollout = read(self.ecs(), self.service_arn)
        if rollout is None:
            return
        previous, self.last = self.last, rollout
        if previous is None or rollout.failed > previous.failed or rollout.state == "FAILED":
            self._failed_tasks(rollout)
        line = f"  {rollout.line()}"
        if self.terminal is not None:
            self._draw(line)
        elif previous is None or previous.line() != rollout.line():
            self.out(line)

    def _failed_tasks(self, rollout: Rollout) -> None:
        if not rollout.failed or self.service_arn is None:
            return
        for task in stopped_tasks(self.ecs(), self.service_arn, rollout.deployment):
            if task["taskArn"] not in self.seen_tasks:
                self.seen_tasks.add(task["taskArn"])
                self.say(f"  {stopped_line(task)}")

    def close(self) -> None:
        """The follow is over: the progress line stays as the rollout's last state."""
        if self.shown and self.terminal is not None:
            self.terminal.write("\n")
            self.terminal.flush()
            self.shown = ""

    def _draw(self, line: str) -> None:
        assert self.terminal is not None
        width = shutil.get_terminal_size().columns - 1  # a wrapped line cannot be redrawn
        self.terminal.write("\r\x1b[2K" + line[:width])
        self.terminal.flush()
        self.shown = line

    def _clear(self) -> None:
        if self.shown and self.terminal is not None:
            self.terminal.write("\r\x1b[2K")
            self.terminal.flush()
            self.shown = ""


def physical_id(cf: Any, stack_id: str, logical_id: str) -> str | None:
    """The resource's physical ID, or None while the stack has not created it. The stack's
    whole list, as params.Resolver reads it: filtering by LogicalResourceId trips over the
    resources the emulator lists without one."""
    resources = cf.describe_stack_resources(StackName=stack_id)["StackResources"]
    found = [r for r in resources if r.get("LogicalResourceId") == logical_id]
    return (found[0].get("PhysicalResourceId") or None) if found else None


def watch(
    aws: Any,
    stack_id: str,
    template: dict[str, Any],
    say: Say,
    terminal: TextIO | None,
) -> Watch | None:
    """A Watch over the template's ECS service, or None when it runs none."""
    services = service_logical_ids(template)
    if not services:
        return None
    cf = aws.cloudformation
    return Watch(
        lambda: aws.client("ecs"),
        lambda: physical_id(cf, stack_id, services[0]),
        say,
        terminal,
    )
