"""ECS service deployments (blue/green, canary, linear): every call the deployer makes about
them, and what it reads from their answers. Nothing here prints.

A service whose deployment controller is ECS and whose strategy is not ROLLING deploys as a
"service deployment": lifecycle stages (SCALE_UP, TEST_TRAFFIC_SHIFT, ...), a lifecycle hook
that may pause it (a PAUSE hook AWAITING_ACTION until ContinueServiceDeployment answers it or
it expires), then bake time. DescribeServiceDeployments tells the stage, the hooks, the
traffic each revision is asked to take, and why it rolled back.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from deployer.rollout import cluster_and_name

# ListServiceDeployments' statuses of a deployment that has not ended.
UNDER_WAY = (
    "PENDING",
    "IN_PROGRESS",
    "ROLLBACK_REQUESTED",
    "ROLLBACK_IN_PROGRESS",
    "STOP_REQUESTED",
)
ENDED = frozenset({"SUCCESSFUL", "STOPPED", "ROLLBACK_SUCCESSFUL", "ROLLBACK_FAILED"})
FAILED = frozenset({"STOPPED", "ROLLBACK_SUCCESSFUL", "ROLLBACK_FAILED", "ROLLBACK_IN_PROGRESS"})
ACTIVE = ("PENDING", "IN_PROGRESS")  # a deployment that can still be answered or stopped
PAUSE = "PAUSE"
AWAITING = "AWAITING_ACTION"
CONTINUE, ROLLBACK = "CONTINUE", "ROLLBACK"


@dataclass(frozen=True)
class Hook:
    hook_id: str
    target_type: str  # PAUSE or AWS_LAMBDA
    status: str  # AWAITING_ACTION, IN_PROGRESS, SUCCEEDED, FAILED, TIMED_OUT
    expires_at: datetime | None
    timeout_action: str  # what ECS does when nobody answers: ROLLBACK or CONTINUE


@dataclass(frozen=True)
class Deployment:
    """One DescribeServiceDeployments entry, as the deployer reads it."""

    arn: str
    service_arn: str
    status: str
    status_reason: str
    stage: str  # lifecycleStage; "" before ECS names one
    hooks: tuple[Hook, ...]
    production_weight: float | None  # the new revision's requested share, percent
    test_weight: float | None
    running: int
    pending: int
    requested: int
    bake_minutes: int | None
    strategy: str
    rollback_reason: str
    circuit_breaker: str  # TRIGGERED, MONITORING...; "" when ECS gives none
    triggered_alarms: tuple[str, ...]
    started_at: datetime | None
    updated_at: datetime | None

    def paused(self) -> Hook | None:
        """The PAUSE hook waiting for an answer, if the deployment waits at one."""
        return next(
            (h for h in self.hooks if h.target_type == PAUSE and h.status == AWAITING),
            None,
        )

    def ended(self) -> bool:
        return self.status in ENDED

    def failed(self) -> bool:
        return self.status in FAILED

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def parse(raw: dict[str, Any]) -> Deployment:
    target = raw.get("targetServiceRevision") or {}
    config = raw.get("deploymentConfiguration") or {}
    hooks = tuple(
        Hook(
            h.get("hookId", ""),
            h.get("targetType", ""),
            h.get("status", ""),
            h.get("expiresAt"),
            h.get("timeoutAction", ""),
        )
        for h in raw.get("lifecycleHookDetails", [])
    )
    return Deployment(
        arn=raw["serviceDeploymentArn"],
        service_arn=raw.get("serviceArn", ""),
        status=raw.get("status", ""),
        status_reason=raw.get("statusReason", ""),
        stage=raw.get("lifecycleStage", ""),
        hooks=hooks,
        production_weight=target.get("requestedProductionTrafficWeight"),
        test_weight=target.get("requestedTestTrafficWeight"),
        running=target.get("runningTaskCount", 0),
        pending=target.get("pendingTaskCount", 0),
        requested=target.get("requestedTaskCount", 0),
        bake_minutes=config.get("bakeTimeInMinutes"),
        strategy=config.get("strategy", ""),
        rollback_reason=(raw.get("rollback") or {}).get("reason", ""),
        circuit_breaker=(raw.get("deploymentCircuitBreaker") or {}).get("status", ""),
        triggered_alarms=tuple((raw.get("alarms") or {}).get("triggeredAlarmNames", [])),
        started_at=raw.get("startedAt") or raw.get("createdAt"),
        updated_at=raw.get("updatedAt"),
    )


def list_arns(
    ecs: Any,
    cluster: str,
    service: str,
    created_after: datetime | None = None,
    statuses: tuple[str, ...] | None = None,
) -> list[str]:
    """The service's deployments (newest first, as ECS lists them), created after
    `created_after` and of `statuses` when given. ECS keeps 90 days of them: a filter keeps
    the pages few."""
    request: dict[str, Any] = {"cluster": cluster, "service": service}
    if created_after is not None:
        request["createdAt"] = {"after": created_after}
    if statuses:
        request["status"] = list(statuses)
    arns: list[str] = []
    while True:
        page = ecs.list_service_deployments(**request)
        arns.extend(d["serviceDeploymentArn"] for d in page.get("serviceDeployments", []))
        if not page.get("nextToken"):
            return arns
        request["nextToken"] = page["nextToken"]


def describe(ecs: Any, arn: str) -> Deployment | None:
    found = ecs.describe_service_deployments(serviceDeploymentArns=[arn])
    raw = found.get("serviceDeployments", [])
    return parse(raw[0]) if raw else None


def newest(
    ecs: Any,
    service_arn: str,
    statuses: tuple[str, ...] | None = ACTIVE,
    created_after: datetime | None = None,
) -> Deployment | None:
    """The service's newest deployment of `statuses` (default: one still to be answered or
    stopped), created after `created_after` when given; None when there is none."""
    cluster, name = cluster_and_name(service_arn)
    found = list_arns(ecs, cluster, name, created_after, statuses)
    return describe(ecs, found[0]) if found else None


def answer(ecs: Any, arn: str, hook_id: str, action: str) -> None:
    """ContinueServiceDeployment: CONTINUE or ROLLBACK the deployment waiting at `hook_id`."""
    ecs.continue_service_deployment(serviceDeploymentArn=arn, hookId=hook_id, action=action)


def stop(ecs: Any, arn: str) -> None:
    """StopServiceDeployment with a rollback: the deployment goes back to the revision it
    replaces (what the abort of a deployment not waiting at a hook asks for)."""
    ecs.stop_service_deployment(serviceDeploymentArn=arn, stopType=ROLLBACK)


def cli_answer(arn: str, hook_id: str, action: str) -> str:
    return (
        f"aws ecs continue-service-deployment --service-deployment-arn {arn} "
        f"--hook-id {hook_id} --action {action}"
    )


def cli_stop(arn: str) -> str:
    return f"aws ecs stop-service-deployment --service-deployment-arn {arn} --stop-type {ROLLBACK}"
