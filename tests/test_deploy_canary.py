"""A progressive service's ECS service deployment, followed and answered at its pause.

moto runs no ECS service deployment (ListServiceDeployments is not implemented there): every
test here plays the lifecycle from a small fake ECS client (tests/fake_ecs.py) and says so.
What is not ECS-specific is real: the smoke check GETs a local HTTP server on 127.0.0.1 that
answers 200 only with the test header, and the alarms are moto's CloudWatch over HTTP.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import boto3
import pytest
from fake_ecs import DEPLOYMENT_ARN, HOOK_ID, SERVICE_ARN, FakeEcs, canary, step
from test_deploy_verify import put_alarm

from deployer import gate
from deployer.canary import CanaryWatch
from deployer.follow import Diagnostics, failure_report
from manifest import Image, Progressive, ServiceSpec

HEADER, VALUE = "X-Canary", "c4n4ry"
STACK_ID = "arn:aws:cloudformation:us-east-1:123456789012:stack/test-service/1"
ALARM = "test-service-Target5xx"


class Versions(BaseHTTPRequestHandler):
    """The test listener rule: only a request with the header reaches the new revision."""

    new = "v2"
    healthy = True

    def do_GET(self) -> None:
        if self.headers.get(HEADER) != VALUE:
            self.send_response(404)
            self.end_headers()
            return
        self.send_response(200 if self.healthy else 503)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(json.dumps({"status": "ok", "version": self.new}).encode())

    def log_message(self, *_args: Any) -> None:
        pass


@pytest.fixture
def new_revision() -> Iterator[tuple[str, type[Versions]]]:
    handler = type("Handler", (Versions,), {})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", handler
    server.shutdown()


def web(url: str, progressive: bool = True) -> ServiceSpec:
    chosen = Progressive("canary", HEADER, VALUE, 30) if progressive else None
    return ServiceSpec("web", "svc-web", Image("scalable-app-local", "v2"), url, "/_health", chosen)


class Stack:
    """The service stack's two reads the gate makes: its ImageTag, and its alarm's name.
    moto's CloudFormation creates no AWS::CloudWatch::Alarm and lists it without a logical
    ID (EMULATOR.md), so this small fake stands in for them; CloudWatch itself is moto's."""

    def describe_stacks(self, StackName: str) -> dict[str, Any]:
        assert StackName == STACK_ID
        return {"Stacks": [{"Parameters": [{"ParameterKey": "ImageTag", "ParameterValue": "v2"}]}]}

    def describe_stack_resources(self, StackName: str) -> dict[str, Any]:
        return {
            "StackResources": [
                {"LogicalResourceId": "Target5xxAlarm", "PhysicalResourceId": ALARM},
                {"LogicalResourceId": "Service", "PhysicalResourceId": SERVICE_ARN},
            ]
        }


class Aws:
    def __init__(self) -> None:
        self.cloudformation = Stack()

    def client(self, name: str) -> Any:
        return boto3.client(name, region_name="us-east-1")


TEMPLATE = {
    "Resources": {
        "Service": {"Type": "AWS::ECS::Service"},
        "Target5xxAlarm": {"Type": "AWS::CloudWatch::Alarm"},
    }
}


def alarm(state: str) -> None:
    """The stack's alarm in moto's CloudWatch, set to `state`."""
    put_alarm(Aws(), ALARM)  # type: ignore[arg-type]
    cloudwatch = boto3.client("cloudwatch", region_name="us-east-1")
    cloudwatch.set_alarm_state(AlarmName=ALARM, StateValue=state, StateReason=f"test: {state}")


def follow(
    ecs: FakeEcs, service: ServiceSpec, answer: bool = True, smoke_seconds: float = 5.0
) -> tuple[CanaryWatch, list[str], Diagnostics]:
    """Poll the watch as the follower would, until the scripted deployment ends."""
    said: list[str] = []
    diagnostics = Diagnostics(lambda: ecs)
    checks = (
        gate.checks(Aws(), STACK_ID, TEMPLATE, service, smoke_seconds, said.append)
        if answer
        else None
    )
    watch = CanaryWatch(
        lambda: ecs,
        lambda: SERVICE_ARN,
        datetime(2026, 12, 6, tzinfo=UTC),
        said.append,
        "production",
        service.name,
        checks,
        diagnostics.notes,
        interval=0.0,
    )
    for _ in range(30):
        watch.poll()
        if watch.last is not None and (watch.last.ended() or (not answer and watch.answered)):
            break
    return watch, said, diagnostics


def test_a_canary_is_smoked_through_the_test_header_and_continued(
    aws: dict[str, str], new_revision: tuple[str, type[Versions]]
) -> None:
    """Fake ECS (moto runs no service deployment): PENDING, SCALE_UP, TEST_TRAFFIC_SHIFT, the
    pause, then PRODUCTION_TRAFFIC_SHIFT, BAKE_TIME, SUCCESSFUL."""
    url, _ = new_revision
    alarm("OK")
    ecs = FakeEcs(*canary())
    watch, said, _ = follow(ecs, web(url))
    assert ecs.answers == [
        {"serviceDeploymentArn": DEPLOYMENT_ARN, "hookId": HOOK_ID, "action": "CONTINUE"}
    ]
    text = "\n".join(said)
    for stage in ("SCALE_UP", "TEST_TRAFFIC_SHIFT", "POST_TEST_TRAFFIC_SHIFT"):
        assert f"stage {stage};" in text
    for stage in ("PRODUCTION_TRAFFIC_SHIFT", "BAKE_TIME", "CLEAN_UP"):
        assert f"stage {stage};" in text
    assert "new revision takes production 0%, test 100%" in text
    assert "new revision takes production 10%, test 100%" in text
    assert "bake time: 10 of 10 min left" in text
    (smoke,) = [line for line in said if line.startswith("  check smoke:")]
    assert smoke.startswith(f"  check smoke: passed: {url}/_health with {HEADER}: {VALUE} answers")
    (alarms,) = [line for line in said if line.startswith("  check alarms:")]
    assert alarms == "  check alarms: passed: none of 1 in ALARM (1 OK or INSUFFICIENT_DATA)"
    assert "  decision: CONTINUE (every check passed)" in said
    assert any("--hook-id hook-1f2e3d --action CONTINUE" in line for line in said)
    # each state is said once, not once per poll
    assert len(said) == len(set(said))
    assert watch.last is not None and watch.last.status == "SUCCESSFUL"


def test_a_failing_smoke_check_rolls_back_naming_it(
    aws: dict[str, str], new_revision: tuple[str, type[Versions]]
) -> None:
    """Fake ECS (moto runs no service deployment): the new revision answers 503."""
    url, handler = new_revision
    handler.healthy = False
    alarm("OK")
    ecs = FakeEcs(*canary())
    _, said, diagnostics = follow(ecs, web(url), smoke_seconds=0.5)
    assert [a["action"] for a in ecs.answers] == ["ROLLBACK"]
    decision = next(line for line in said if "decision:" in line)
    assert decision.startswith("  decision: ROLLBACK (smoke failed: ")
    assert "HTTP 503" in decision
    assert next(line for line in said if "check alarms:" in line).startswith(
        "  check alarms: passed"
    )
    # the deploy's failure report: ECS's root cause and the deployer's reason
    stack = {"StackName": "test-service", "StackStatus": "UPDATE_ROLLBACK_COMPLETE"}
    report = failure_report([], stack, diagnostics)
    assert any("ended ROLLBACK_SUCCESSFUL" in line for line in report)
    assert any("the deployer answered its pause ROLLBACK: smoke failed" in line for line in report)


def test_an_alarm_in_alarm_rolls_back_naming_it(
    aws: dict[str, str], new_revision: tuple[str, type[Versions]]
) -> None:
    """Fake ECS (moto runs no service deployment); the alarm is moto's CloudWatch, in ALARM."""
    url, _ = new_revision
    alarm("ALARM")
    ecs = FakeEcs(*canary())
    _, said, _ = follow(ecs, web(url))
    assert [a["action"] for a in ecs.answers] == ["ROLLBACK"]
    assert next(line for line in said if "check smoke:" in line).startswith("  check smoke: passed")
    decision = next(line for line in said if "decision:" in line)
    assert decision == (
        f"  decision: ROLLBACK (alarms failed: Target5xxAlarm ({ALARM}) is in ALARM: test: ALARM)"
    )


def test_no_verify_leaves_the_pause_to_a_person_with_the_commands(
    aws: dict[str, str], new_revision: tuple[str, type[Versions]]
) -> None:
    """Fake ECS (moto runs no service deployment): nothing answers, the pause stays."""
    url, _ = new_revision
    ecs = FakeEcs(*canary())
    watch, said, _ = follow(ecs, web(url), answer=False)
    assert ecs.answers == []
    assert not any(name == "ContinueServiceDeployment" for name, _, _ in ecs.calls)
    text = "\n".join(said)
    assert "--no-verify: the deployer does not answer the pause" in text
    assert "then ECS will ROLLBACK it" in text
    assert "make promote ENV=production SERVICE=web" in text
    assert "make abort ENV=production SERVICE=web" in text
    assert (
        f"aws ecs continue-service-deployment --service-deployment-arn {DEPLOYMENT_ARN} "
        f"--hook-id {HOOK_ID} --action CONTINUE"
    ) in text
    assert f"--hook-id {HOOK_ID} --action ROLLBACK" in text
    # what a Ctrl-C then prints: the same commands
    handover = "\n".join(watch.handovers["web"])
    assert "make promote ENV=production SERVICE=web" in handover
    assert "waits at its pause until" in handover


def test_a_circuit_breaker_rollback_ends_the_deploy_with_its_root_cause(
    aws: dict[str, str],
) -> None:
    """Fake ECS (moto runs no service deployment): the new tasks fail health checks, the
    circuit breaker triggers during SCALE_UP and ECS rolls back."""
    stopped = [
        {
            "taskArn": "arn:aws:ecs:us-east-1:123456789012:task/cluster-a/0badf00d",
            "stoppedReason": "Task failed ELB health checks in (target-group web-green)",
            "stoppedAt": datetime(2026, 12, 6, 12, 1, tzinfo=UTC),
            "containers": [{"name": "app", "exitCode": 137}],
        }
    ]
    script = [
        step("IN_PROGRESS", "SCALE_UP", running=1),
        step("IN_PROGRESS", "SCALE_UP", running=0),
        step(
            "ROLLBACK_SUCCESSFUL",
            "SCALE_UP",
            running=0,
            statusReason="Service deployment rolled back because the circuit breaker threshold "
            "was exceeded.",
            rollback={"reason": "Rolling back to the previous revision: circuit breaker"},
            deploymentCircuitBreaker={"status": "TRIGGERED", "failureCount": 3, "threshold": 3},
            alarms={"status": "MONITORING", "triggeredAlarmNames": ["web-5xx"]},
        ),
    ]
    ecs = FakeEcs(script, stopped=stopped)
    watch, said, diagnostics = follow(ecs, web("http://127.0.0.1:9"))
    assert ecs.answers == []  # never paused: nothing answered
    assert any("stopped task 0badf00d: Task failed ELB health checks" in line for line in said)
    report = failure_report(
        [
            {
                "LogicalResourceId": "Service",
                "ResourceType": "AWS::ECS::Service",
                "ResourceStatus": "UPDATE_FAILED",
                "ResourceStatusReason": "Resource handler returned message: deployment failed",
            }
        ],
        {"StackName": "test-service", "StackStatus": "UPDATE_ROLLBACK_COMPLETE"},
        diagnostics,
    )
    text = "\n".join(report)
    assert report[0].startswith("Root cause: Service (AWS::ECS::Service) UPDATE_FAILED")
    assert "ended ROLLBACK_SUCCESSFUL: Service deployment rolled back because the circuit" in text
    assert "rollback: Rolling back to the previous revision: circuit breaker" in text
    assert "the deployment circuit breaker triggered" in text
    assert "alarms that triggered the rollback: web-5xx" in text
    assert "stopped task 0badf00d: Task failed ELB health checks" in text
    assert watch.handovers == {}  # ended: nothing for a person to answer


def test_the_watch_asks_ecs_at_most_once_per_interval() -> None:
    """Fake ECS (moto runs no service deployment), and a fake clock: the follower polls
    every second, ECS is asked every 5 seconds."""
    ecs = FakeEcs(*canary())
    now = [0.0]
    watch = CanaryWatch(
        lambda: ecs, lambda: SERVICE_ARN, datetime(2026, 12, 6, tzinfo=UTC), lambda _l: None,
        "production", "web", None, [], clock=lambda: now[0],
    )  # fmt: skip
    for second in range(60):
        now[0] = float(second)
        watch.poll()
    names = [name for name, _, _ in ecs.calls]
    assert names.count("DescribeServiceDeployments") == 12  # every 5 s: 12 a minute
    assert names.count("ListServiceDeployments") == 1  # until the deployment is found
    assert len(names) < 30


def test_the_deploy_follows_a_progressive_service_with_the_canary_watch(
    aws: dict[str, str], tmp_path: Any
) -> None:
    """Which watch a stack's follow gets (no ECS call is made: nothing is polled here). A
    rolling service keeps the rollout watch; a progressive one gets the canary watch, which
    answers its pause unless --no-verify; Ctrl-C's message then carries the handover."""
    import dataclasses

    import test_deploy_support as support

    from deployer import rollout
    from deployer.errors import FollowInterrupted
    from deployer.manifest import load
    from deployer.run import Deployer, Options
    from deployer.session import Aws as RealAws

    build = support.write(tmp_path / "local")
    manifest = load(build)
    spec = manifest.stack("service")
    rolling = Deployer(RealAws("us-east-1"), manifest, Options(False, True, "r", bool, {}), print)
    found = rolling._watch(spec, STACK_ID, datetime.now(UTC), Diagnostics(lambda: None))
    assert isinstance(found, rollout.Watch)
    service = dataclasses.replace(
        manifest.services[0], progressive=Progressive("canary", HEADER, VALUE, 30)
    )
    progressive = dataclasses.replace(manifest, services=(service,))
    # (execute, --no-verify's answer_pause, this follow answers, why a person must answer)
    cases = [
        (True, True, True, None),
        (True, False, False, "--no-verify"),
        (False, True, False, "this run did not start the deployment"),  # make follow
    ]
    for execute, answer_pause, answer, why_not in cases:
        options = Options(execute, True, "r", bool, {}, answer_pause=answer_pause)
        deployer = Deployer(RealAws("us-east-1"), progressive, options, print)
        diagnostics = Diagnostics(lambda: None)
        found = deployer._watch(spec, STACK_ID, datetime.now(UTC), diagnostics, answer)
        assert isinstance(found, CanaryWatch)
        assert (found.checks is not None) is answer
        if why_not:
            assert found.why_not == why_not
        assert found.notes is diagnostics.notes and found.handovers is deployer.handovers
    deployer.handovers["web"] = ["  promote:    make promote ENV=local SERVICE=web"]
    stopped = FollowInterrupted(deployer.target(spec), "UPDATE", deployer.handovers["web"])
    assert str(stopped).endswith("make promote ENV=local SERVICE=web")


def test_alarms_that_cannot_be_read_roll_back_and_a_lost_answer_says_how_to_answer(
    aws: dict[str, str], new_revision: tuple[str, type[Versions]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Fake ECS (moto runs no service deployment) whose ContinueServiceDeployment is refused,
    and CloudWatch refusing DescribeAlarms (botocore's Stubber: moto grants every call)."""
    from botocore.exceptions import ClientError
    from botocore.stub import Stubber

    url, _ = new_revision
    denied = boto3.client("cloudwatch", region_name="us-east-1")
    stubber = Stubber(denied)
    stubber.add_client_error("describe_alarms", "AccessDenied", "not allowed")
    stubber.activate()
    monkeypatch.setattr(Aws, "client", lambda self, name: denied)

    class Refusing(FakeEcs):
        def continue_service_deployment(self, **request: Any) -> dict[str, Any]:
            error = {"Error": {"Code": "AccessDeniedException", "Message": "no"}}
            raise ClientError(error, "ContinueServiceDeployment")

    ecs = Refusing(*canary())
    _, said, _ = follow(ecs, web(url), answer=True)
    text = "\n".join(said)
    assert "  check alarms: FAILED: could not be read (An error occurred (AccessDenied)" in text
    assert "  decision: ROLLBACK (alarms failed: could not be read" in text
    assert "the answer ROLLBACK did not reach ECS" in text
    assert "make abort ENV=production SERVICE=web" in text
