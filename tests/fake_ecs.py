"""Not tests: a small fake ECS client that plays a scripted service deployment (moto runs no
ECS service deployment: ListServiceDeployments is not implemented there).

It answers ListServiceDeployments and DescribeServiceDeployments in the shapes botocore
1.44.8's ECS model gives them, advancing one step per describe; at a PAUSE hook
AWAITING_ACTION it stays until ContinueServiceDeployment answers (CONTINUE: on to production
traffic; ROLLBACK: the rollback steps). Any other call goes to `inner` (moto's client).
Every call is recorded, with the time it was made (the bench counts them a minute).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

SERVICE_ARN = "arn:aws:ecs:us-east-1:123456789012:service/cluster-a/web"
DEPLOYMENT_ARN = "arn:aws:ecs:us-east-1:123456789012:service-deployment/cluster-a/web/abc123"
HOOK_ID = "hook-1f2e3d"
STARTED = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)


def step(
    status: str,
    stage: str = "",
    production: float = 0.0,
    test: float = 0.0,
    running: int = 2,
    hook: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """One DescribeServiceDeployments answer of the scripted deployment."""
    raw: dict[str, Any] = {
        "serviceDeploymentArn": DEPLOYMENT_ARN,
        "serviceArn": SERVICE_ARN,
        "createdAt": STARTED,
        "startedAt": STARTED,
        "status": status,
        "targetServiceRevision": {
            "arn": "arn:aws:ecs:us-east-1:123456789012:service-revision/cluster-a/web/2",
            "requestedTaskCount": 2,
            "runningTaskCount": running,
            "pendingTaskCount": 2 - running,
            "requestedProductionTrafficWeight": production,
            "requestedTestTrafficWeight": test,
        },
        "deploymentConfiguration": {"strategy": "CANARY", "bakeTimeInMinutes": 10},
        "deploymentCircuitBreaker": {"status": "MONITORING", "failureCount": 0, "threshold": 3},
        **extra,
    }
    if stage:
        raw["lifecycleStage"] = stage
    if hook:
        raw["lifecycleHookDetails"] = [
            {
                "hookId": HOOK_ID,
                "targetType": "PAUSE",
                "status": hook,
                "expiresAt": datetime.now(UTC) + timedelta(minutes=30),
                "timeoutAction": "ROLLBACK",
            }
        ]
    return raw


def canary() -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    """A canary to its pause; after CONTINUE; after ROLLBACK."""
    before = [
        step("PENDING", running=0),
        step("IN_PROGRESS", "SCALE_UP", running=1),
        step("IN_PROGRESS", "SCALE_UP"),
        step("IN_PROGRESS", "TEST_TRAFFIC_SHIFT", test=100.0),
        step("IN_PROGRESS", "POST_TEST_TRAFFIC_SHIFT", test=100.0, hook="AWAITING_ACTION"),
    ]
    after = [
        step("IN_PROGRESS", "PRODUCTION_TRAFFIC_SHIFT", production=10.0, test=100.0),
        step("IN_PROGRESS", "BAKE_TIME", production=100.0, test=100.0),
        step("SUCCESSFUL", "CLEAN_UP", production=100.0, test=100.0),
    ]
    back = [
        step("ROLLBACK_IN_PROGRESS", "POST_TEST_TRAFFIC_SHIFT", test=100.0),
        step(
            "ROLLBACK_SUCCESSFUL",
            statusReason="Service deployment rolled back because a lifecycle hook failed.",
            rollback={"reason": "ContinueServiceDeployment asked for a ROLLBACK"},
        ),
    ]
    return before, after, back


class FakeEcs:
    def __init__(
        self,
        before: list[dict[str, Any]],
        after: list[dict[str, Any]] | None = None,
        back: list[dict[str, Any]] | None = None,
        inner: Any = None,
        stopped: list[dict[str, Any]] | None = None,
    ) -> None:
        self.script = list(before)
        self.after = after or []
        self.back = back or []
        self.inner = inner
        self.stopped = stopped or []
        self.at = 0
        self.calls: list[tuple[str, dict[str, Any], float]] = []
        self.answers: list[dict[str, Any]] = []

    def _record(self, name: str, request: dict[str, Any]) -> None:
        self.calls.append((name, request, time.monotonic()))

    def current(self) -> dict[str, Any]:
        return self.script[min(self.at, len(self.script) - 1)]

    def list_service_deployments(self, **request: Any) -> dict[str, Any]:
        self._record("ListServiceDeployments", request)
        wanted = request.get("status")
        state = self.current()
        if wanted and state["status"] not in wanted:
            return {"serviceDeployments": []}
        return {"serviceDeployments": [{"serviceDeploymentArn": DEPLOYMENT_ARN}]}

    def describe_service_deployments(self, **request: Any) -> dict[str, Any]:
        self._record("DescribeServiceDeployments", request)
        assert request["serviceDeploymentArns"] == [DEPLOYMENT_ARN]
        state = self.current()
        paused = any(
            h["status"] == "AWAITING_ACTION" for h in state.get("lifecycleHookDetails", [])
        )
        if not paused:
            self.at += 1
        return {"serviceDeployments": [state], "failures": []}

    def continue_service_deployment(self, **request: Any) -> dict[str, Any]:
        self._record("ContinueServiceDeployment", request)
        self.answers.append(request)
        going = self.after if request.get("action", "CONTINUE") == "CONTINUE" else self.back
        self.script = self.script[: self.at + 1] + going  # on from the pause
        self.at += 1
        return {"serviceDeploymentArn": request["serviceDeploymentArn"]}

    def stop_service_deployment(self, **request: Any) -> dict[str, Any]:
        self._record("StopServiceDeployment", request)
        self.answers.append(request)
        self.script = self.script[: self.at] + self.back
        return {"serviceDeploymentArn": request["serviceDeploymentArn"]}

    def list_tasks(self, **request: Any) -> dict[str, Any]:
        self._record("ListTasks", request)
        return {"taskArns": [t["taskArn"] for t in self.stopped]}

    def describe_tasks(self, **request: Any) -> dict[str, Any]:
        self._record("DescribeTasks", request)
        return {"tasks": [t for t in self.stopped if t["taskArn"] in request["tasks"]]}

    def __getattr__(self, name: str) -> Any:
        if self.inner is None:
            raise AttributeError(name)
        return getattr(self.inner, name)
