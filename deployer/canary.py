"""The ECS service deployment behind a progressive service's stack update (blue/green, canary,
linear), followed while CloudFormation waits on it, and answered at its pause.

CloudFormation keeps the service UPDATE_IN_PROGRESS until the deployment ends. This shows,
each time it changes: the lifecycle stage, the traffic split (the new revision's requested
production and test weights), its task counts, the bake time left, and each task that
failed with the reason ECS stopped it. At the PAUSE hook (lifecycle stage
POST_TEST_TRAFFIC_SHIFT, the hook AWAITING_ACTION) the new revision takes only test traffic:
the checks run (each one line), then the decision, CONTINUE or ROLLBACK naming why. Without
checks (--no-verify) the deployer does not answer: it says until when the deployment waits,
what ECS does then, and the commands that answer it by hand.

ECS is asked at most once every `interval` seconds (DescribeServiceDeployments; before the
deployment is found, ListServiceDeployments), stopped tasks at most once every
STOPPED_EVERY seconds: under 30 calls a minute whatever the follower's pace.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from deployer import advice, rollout
from deployer import ecs_deployments as deployments
from deployer.ecs_deployments import CONTINUE, ROLLBACK, Deployment, Hook
from deployer.status import error_line

INTERVAL = 5.0  # seconds between two DescribeServiceDeployments: 12 calls a minute
STOPPED_EVERY = 30.0  # seconds between two reads of the stopped tasks (2 calls each)
Say = Callable[[str], None]


@dataclass(frozen=True)
class Check:
    name: str  # "smoke", "alarms"
    passed: bool
    line: str  # what it found, said as is


@dataclass(frozen=True)
class Decision:
    action: str  # CONTINUE or ROLLBACK
    checks: tuple[Check, ...]

    def why(self) -> str:
        failed = [c for c in self.checks if not c.passed]
        if not failed:
            return "every check passed"
        return "; ".join(f"{c.name} failed: {c.line}" for c in failed)

    def line(self) -> str:
        return f"decision: {self.action} ({self.why()})"


def decide(checks: list[Check]) -> Decision:
    """CONTINUE only when every check passed."""
    action = CONTINUE if all(c.passed for c in checks) else ROLLBACK
    return Decision(action, tuple(checks))


def when(moment: datetime | None) -> str:
    if moment is None:
        return "a time ECS does not give"
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def weight(value: float | None) -> str:
    return "?" if value is None else f"{value:g}%"


def progress_line(d: Deployment) -> str:
    """The deployment's state, traffic split and task counts: printed when it changes."""
    stage = f", stage {d.stage}" if d.stage else ""
    return (
        f"{d.strategy.lower() or 'service'} deployment {d.arn.rsplit('/', 1)[-1]}: "
        f"{d.status}{stage}; new revision takes production {weight(d.production_weight)}, "
        f"test {weight(d.test_weight)}; {d.running}/{d.requested} running, {d.pending} pending"
    )


def root_cause(d: Deployment) -> list[str]:
    """Why a deployment ended without success, as ECS says it."""
    lines = [
        f"ECS service deployment {d.arn} ended {d.status}: {d.status_reason or 'no reason given'}"
    ]
    if d.rollback_reason:
        lines.append(f"  rollback: {d.rollback_reason}")
    if d.circuit_breaker == "TRIGGERED":
        lines.append(f"  the deployment circuit breaker triggered ({d.stage or 'no stage'})")
    if d.triggered_alarms:
        lines.append(f"  alarms that triggered the rollback: {', '.join(d.triggered_alarms)}")
    return lines


def summary(env: str, service: str, d: Deployment) -> dict[str, Any]:
    """`make status`'s view of a deployment under way (plain data: it goes through JSON)."""
    hook = d.paused()
    return {
        "arn": d.arn,
        "status": d.status,
        "stage": d.stage,
        "line": progress_line(d),
        "paused": None
        if hook is None
        else {
            "hook_id": hook.hook_id,
            "expires_at": when(hook.expires_at),
            "timeout_action": hook.timeout_action,
        },
        "next": handover(env, service, d),
    }


def handover(env: str, service: str, d: Deployment) -> list[str]:
    """The commands that answer (or stop) a deployment the deployer no longer follows."""
    hook = d.paused()
    lines = []
    if hook is not None:
        lines.append(
            f"The {service} deployment waits at its pause until {when(hook.expires_at)}; "
            f"then ECS will {hook.timeout_action or 'ROLLBACK'} it. Answer it:"
        )
        lines.append(advice.promote(env, service, d.arn, hook.hook_id))
        lines.append(advice.abort(env, service, d.arn, hook.hook_id))
    elif not d.ended():
        lines.append(f"The {service} deployment goes on ({d.stage or d.status}). To stop it:")
        lines.append(advice.abort(env, service, d.arn, None))
    return lines


class CanaryWatch:
    """Follows one service's ECS service deployment beside its stack's events.

    `checks` runs the checks at the pause (None: --no-verify, the pause is left to a person);
    `notes` receives the root cause of a deployment that ends without success (the failure
    report's Diagnostics lines); `handovers` holds, while the deployment is under way, what to
    tell a person when the deployer stops following (Ctrl-C, the deadline)."""

    def __init__(
        self,
        ecs: Callable[[], Any],
        find_service: Callable[[], str | None],
        since: datetime,
        say: Say,
        env: str,
        service: str,
        checks: Callable[[Deployment, Hook], list[Check]] | None,
        notes: list[str],
        handovers: dict[str, list[str]] | None = None,
        interval: float = INTERVAL,
        clock: Callable[[], float] = time.monotonic,
        why_not: str = "--no-verify",  # why `checks` is None, said at the pause
    ) -> None:
        self.ecs = ecs
        self.find_service = find_service
        self.since = since
        self.say = say
        self.env = env
        self.service = service
        self.checks = checks
        self.notes = notes
        self.handovers = handovers if handovers is not None else {}
        self.interval = interval
        self.clock = clock
        self.why_not = why_not
        self.service_arn: str | None = None
        self.arn: str | None = None
        self.last: Deployment | None = None
        self.shown = ""  # the last progress line said: a line is said when it changes
        self.answered: set[str] = set()  # hook IDs answered or handed over
        self.decision: Decision | None = None
        self.bake_started: float | None = None
        self.bake_left: int | None = None
        self.asked = -math.inf
        self.stopped_read = -math.inf
        self.tasks: dict[str, str] = {}  # stopped task ARN -> its line, said once
        self.unreadable = False
        self.failure_noted = False  # the root cause of a deployment that failed, given once

    def poll(self) -> None:
        """Called after each poll of the follower: asks ECS only once `interval` passed."""
        from botocore.exceptions import BotoCoreError, ClientError

        now = self.clock()
        if now - self.asked < self.interval:
            return
        self.asked = now
        try:
            self._poll(now)
        except (ClientError, BotoCoreError) as error:
            if not self.unreadable:
                self.unreadable = True
                why = error_line(error)
                self.say(f"  (deployment: ECS could not be read, following the stack only: {why})")

    def _poll(self, now: float) -> None:
        if self.service_arn is None:
            self.service_arn = self.find_service()
            if self.service_arn is None:
                return
        ecs = self.ecs()
        if self.arn is None:
            cluster, name = rollout.cluster_and_name(self.service_arn)
            found = deployments.list_arns(ecs, cluster, name, created_after=self.since)
            if not found:
                return
            self.arn = found[0]  # the newest: the one this update started (any status)
        d = deployments.describe(ecs, self.arn)
        if d is None:
            return
        self._show(d, now)
        self.last = d
        hook = d.paused()
        if hook is not None and hook.hook_id not in self.answered:
            self.answered.add(hook.hook_id)
            self._pause(ecs, d, hook)
        if d.ended():
            self.handovers.pop(self.service, None)
            if d.failed():
                self._failed(d, now)
        else:
            self.handovers[self.service] = handover(self.env, self.service, d)

    def _show(self, d: Deployment, now: float) -> None:
        line = progress_line(d)
        if line != self.shown:
            self.shown = line
            self.say(f"  {line}")
        if d.stage == "BAKE_TIME" and d.bake_minutes is not None:
            if self.bake_started is None:
                self.bake_started = now
            left = max(0, math.ceil(d.bake_minutes - (now - self.bake_started) / 60))
            if left != self.bake_left:
                self.bake_left = left
                self.say(f"  bake time: {left} of {d.bake_minutes} min left, then the old goes")
        previous = self.last
        failing = previous is not None and (d.running < previous.running)
        due = now - self.stopped_read >= STOPPED_EVERY
        if (failing or d.circuit_breaker == "TRIGGERED") and due:
            self.stopped_read = now
            for line in self._stopped(d):
                self.say(f"  {line}")

    def _stopped(self, d: Deployment) -> list[str]:
        """The service's tasks stopped since the deployment started, each said once."""
        assert self.service_arn is not None
        fresh = []
        for task in rollout.stopped_tasks(self.ecs(), self.service_arn):
            stopped = task.get("stoppedAt")
            if d.started_at is not None and stopped is not None and stopped < d.started_at:
                continue
            if task["taskArn"] not in self.tasks:
                self.tasks[task["taskArn"]] = rollout.stopped_line(task)
                fresh.append(self.tasks[task["taskArn"]])
        return fresh

    def _pause(self, ecs: Any, d: Deployment, hook: Hook) -> None:
        self.say(
            f"  paused at {d.stage or 'its hook'} (hook {hook.hook_id}): the new revision takes "
            f"test traffic only, until {when(hook.expires_at)}; then ECS will "
            f"{hook.timeout_action or 'ROLLBACK'} it"
        )
        if self.checks is None:
            self.say(f"  {self.why_not}: the deployer does not answer the pause; a person does:")
            for line in handover(self.env, self.service, d)[1:]:
                self.say(line)
            self.say(
                "  still following: the deploy ends when the deployment does "
                "(Ctrl-C stops following; the deployment waits on)"
            )
            return
        checks = self.checks(d, hook)
        for check in checks:
            verdict = "passed" if check.passed else "FAILED"
            self.say(f"  check {check.name}: {verdict}: {check.line}")
        self.decision = decide(checks)
        self.say(f"  {self.decision.line()}")
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            deployments.answer(ecs, d.arn, hook.hook_id, self.decision.action)
        except (ClientError, BotoCoreError) as error:
            self.say(
                f"  the answer {self.decision.action} did not reach ECS ({error_line(error)}):"
            )
            for line in handover(self.env, self.service, d)[1:]:
                self.say(line)
            return
        cli = deployments.cli_answer(d.arn, hook.hook_id, self.decision.action)
        self.say(f"  (AWS CLI: {cli})")

    def _failed(self, d: Deployment, now: float) -> None:
        if self.failure_noted:
            return
        self.failure_noted = True
        lines = root_cause(d)
        if self.decision is not None and self.decision.action == ROLLBACK:
            lines.append(f"  the deployer answered its pause ROLLBACK: {self.decision.why()}")
        if now - self.stopped_read >= STOPPED_EVERY or not self.tasks:
            self.stopped_read = now
            self._stopped(d)
        lines.extend(f"  {line}" for line in self.tasks.values())
        self.notes[:0] = lines

    def finish(self) -> None:
        """The stack's operation settled: one last look, so that a deployment that ended
        between two polls still gives its root cause."""
        if self.arn is None or (self.last is not None and self.last.ended()):
            return
        self.asked = -math.inf
        self.poll()

    def close(self) -> None:
        """Nothing stays drawn: every line was said whole."""
