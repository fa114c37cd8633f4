"""`deploy.py promote` / `abort` (make promote / make abort SERVICE=x) and `status` on a
progressive service, through deploy.py's CLI in this process.

The stacks are deployed on moto over HTTP (the local flow); moto runs no ECS service
deployment (ListServiceDeployments is not implemented there), so ECS's deployment calls are
answered by a small fake client (tests/fake_ecs.py) wrapped around moto's, which answers
every other ECS call. The manifest is the deployed one with its service made progressive
(generate.py writes that from [services.web.deployment]; here it is written directly).
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest
import test_deploy_support as support
from fake_ecs import DEPLOYMENT_ARN, HOOK_ID, FakeEcs, canary, step
from test_deploy_e2e import run_script

import deploy
from deployer.session import Aws

PROGRESSIVE = {
    "strategy": "canary",
    "test_header": "X-Canary",
    "test_header_value": "c4n4ry",
    "pause_timeout_minutes": 30,
}


@pytest.fixture
def deployed(
    aws: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[Path, Path]:
    """The rolling build deployed on moto; a copy of it whose service `web` is a canary."""
    monkeypatch.setenv(support.PAGERDUTY_VAR, "https://events.pagerduty.com/test")
    build = support.write(tmp_path / "rolling" / "local")
    first = run_script(
        dict(os.environ), "local_aws.py", "deploy", "--build-dir", str(build), "--yes"
    )
    assert first.returncode == 0, first.stdout + first.stderr
    canary_build = tmp_path / "canary" / "local"
    shutil.copytree(build, canary_build)
    manifest = json.loads((canary_build / "manifest.json").read_text())
    manifest["services"][0]["progressive"] = PROGRESSIVE
    (canary_build / "manifest.json").write_text(json.dumps(manifest))
    return build, canary_build


def with_ecs(monkeypatch: pytest.MonkeyPatch, fake: FakeEcs) -> FakeEcs:
    """Aws.client("ecs") answers from `fake`, which passes what it does not play to moto."""
    real = Aws.client

    def client(self: Aws, service: str) -> Any:
        if service != "ecs":
            return real(self, service)
        if fake.inner is None:
            fake.inner = real(self, service)
        return fake

    monkeypatch.setattr(Aws, "client", client)
    return fake


def paused() -> FakeEcs:
    """A canary waiting at its pause."""
    before, after, back = canary()
    fake = FakeEcs(before[-1:], after, back)
    return fake


def cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, Any], str]:
    code = deploy.main([*argv, "--env", "local", "--output", "json"])
    captured = capsys.readouterr()
    return code, json.loads(captured.out), captured.err


def test_promote_answers_the_pause_continue_and_prints_the_aws_cli(
    deployed: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _, build = deployed
    fake = with_ecs(monkeypatch, paused())
    code, doc, progress = cli(
        capsys, "promote", "--build-dir", str(build), "--service", "web", "--yes"
    )
    assert code == 0, progress
    assert fake.answers == [
        {"serviceDeploymentArn": DEPLOYMENT_ARN, "hookId": HOOK_ID, "action": "CONTINUE"}
    ]
    assert doc["mode"] == "promote" and doc["deployment"]["action"] == "CONTINUE"
    assert (
        f"(AWS CLI: aws ecs continue-service-deployment --service-deployment-arn {DEPLOYMENT_ARN} "
        f"--hook-id {HOOK_ID} --action CONTINUE)"
    ) in progress
    # ListServiceDeployments asked for the service's deployments still under way
    listed = next(r for name, r, _ in fake.calls if name == "ListServiceDeployments")
    assert listed["status"] == ["PENDING", "IN_PROGRESS"]


def test_abort_rolls_back_at_the_pause_or_stops_a_deployment_under_way(
    deployed: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _, build = deployed
    fake = with_ecs(monkeypatch, paused())
    code, doc, progress = cli(
        capsys, "abort", "--build-dir", str(build), "--service", "web", "--yes"
    )
    assert code == 0, progress
    assert [a["action"] for a in fake.answers] == ["ROLLBACK"]
    assert "--action ROLLBACK)" in progress
    # not paused: StopServiceDeployment with a rollback
    fake = with_ecs(monkeypatch, FakeEcs([step("IN_PROGRESS", "SCALE_UP")], back=canary()[2]))
    code, doc, progress = cli(
        capsys, "abort", "--build-dir", str(build), "--service", "web", "--yes"
    )
    assert code == 0, progress
    assert fake.answers == [{"serviceDeploymentArn": DEPLOYMENT_ARN, "stopType": "ROLLBACK"}]
    assert doc["deployment"]["action"] == "STOP_ROLLBACK"
    assert (
        f"(AWS CLI: aws ecs stop-service-deployment --service-deployment-arn {DEPLOYMENT_ARN} "
        "--stop-type ROLLBACK)"
    ) in progress


def test_promote_and_abort_refuse_what_they_cannot_do(
    deployed: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    rolling, build = deployed
    fake = with_ecs(monkeypatch, paused())
    # no service named
    code, doc, _ = cli(capsys, "promote", "--build-dir", str(build), "--yes")
    assert code == 1 and "name it with --service NAME (make promote SERVICE=NAME)" in doc["error"]
    # no terminal and no --yes: nobody can confirm
    code, doc, _ = cli(capsys, "promote", "--build-dir", str(build), "--service", "web")
    assert code == 1 and "make promote SERVICE=web YES=1" in doc["error"]
    assert fake.answers == []
    # a rolling service: nothing pauses
    code, doc, _ = cli(capsys, "abort", "--build-dir", str(rolling), "--service", "web", "--yes")
    assert code == 1 and "deploys with a rolling update" in doc["error"]
    # promote of a deployment not paused: nothing to promote, nothing sent
    with_ecs(monkeypatch, fake := FakeEcs([step("IN_PROGRESS", "BAKE_TIME")]))
    code, doc, progress = cli(
        capsys, "promote", "--build-dir", str(build), "--service", "web", "--yes"
    )
    assert code == 0 and doc["deployment"]["action"] is None
    assert "is at BAKE_TIME, not waiting at its pause: nothing to promote" in progress
    assert fake.answers == []
    # no deployment under way
    with_ecs(monkeypatch, fake := FakeEcs([step("SUCCESSFUL", "CLEAN_UP")]))
    code, doc, progress = cli(
        capsys, "abort", "--build-dir", str(build), "--service", "web", "--yes"
    )
    assert code == 0 and "no deployment of web is under way: nothing to abort" in progress
    assert fake.answers == []


def test_status_shows_the_deployment_in_progress_and_its_stage(
    deployed: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _, build = deployed
    with_ecs(monkeypatch, paused())
    code = deploy.main(["status", "--env", "local", "--build-dir", str(build)])
    shown = capsys.readouterr().out
    assert code == 0, shown
    assert "canary deployment abc123: IN_PROGRESS, stage POST_TEST_TRAFFIC_SHIFT;" in shown
    assert "paused: waits for an answer until" in shown and "then ECS will ROLLBACK it" in shown
    assert "make promote ENV=local SERVICE=web" in shown
    code, doc, _ = cli(capsys, "status", "--build-dir", str(build))
    (service,) = doc["status"]["services"]
    assert service["strategy"] == "canary"
    assert service["service_deployment"]["stage"] == "POST_TEST_TRAFFIC_SHIFT"
    assert service["service_deployment"]["paused"]["hook_id"] == HOOK_ID


def to_image(build: Path, tag: str, url: str | None = None) -> None:
    """The canary build deploys `tag` (and its service answers at `url`)."""
    manifest = json.loads((build / "manifest.json").read_text())
    manifest["services"][0]["image"]["tag"] = tag
    if url:
        manifest["services"][0]["url"] = url
    service = next(s for s in manifest["stacks"] if s["key"] == "service")
    service["parameters"]["ImageTag"] = tag
    (build / "manifest.json").write_text(json.dumps(manifest))


@pytest.mark.parametrize("no_verify", [False, True])
def test_a_deploy_of_a_canary_answers_its_pause_or_hands_it_over(
    deployed: tuple[Path, Path],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    no_verify: bool,
) -> None:
    """The whole path, make deploy's (local_aws.py, in this process): moto updates the stack
    at once, and the fake ECS client (moto runs no service deployment) has the canary at its
    pause at the deployer's first look. Nothing serves the service's URL here (127.0.0.1:9),
    so the smoke check through the test header fails and the deployer answers ROLLBACK;
    with --no-verify it answers nothing and shows the commands."""
    import local_aws

    _, build = deployed
    to_image(build, "v2", "http://127.0.0.1:9")
    fake = with_ecs(monkeypatch, paused())
    argv = ["deploy", "--build-dir", str(build), "--yes", "--smoke-timeout", "0.02"]
    local_aws.main([*argv, *(["--no-verify"] if no_verify else [])])
    shown = capsys.readouterr().out
    assert "canary deployment abc123: IN_PROGRESS, stage POST_TEST_TRAFFIC_SHIFT;" in shown
    if no_verify:
        assert fake.answers == []
        assert "--no-verify: the deployer does not answer the pause; a person does:" in shown
        assert "make promote ENV=local SERVICE=web" in shown
        assert f"--hook-id {HOOK_ID} --action CONTINUE" in shown
    else:
        assert [a["action"] for a in fake.answers] == ["ROLLBACK"]
        assert "check smoke: FAILED: http://127.0.0.1:9/_health with X-Canary: c4n4ry" in shown
        assert "decision: ROLLBACK (smoke failed: " in shown


def test_status_says_when_the_deployment_cannot_be_read_and_shows_the_rest(
    deployed: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The fake ECS client (moto runs no service deployment) refuses ListServiceDeployments,
    as AWS does to a role that lacks it."""
    from botocore.exceptions import ClientError

    class Refusing(FakeEcs):
        def list_service_deployments(self, **request: Any) -> dict[str, Any]:
            error = {"Error": {"Code": "AccessDeniedException", "Message": "not allowed"}}
            raise ClientError(error, "ListServiceDeployments")

    _, build = deployed
    with_ecs(monkeypatch, Refusing([]))
    code = deploy.main(["status", "--env", "local", "--build-dir", str(build)])
    shown = capsys.readouterr().out
    assert code == 0, shown
    assert "  deployment (canary): not read: An error occurred (AccessDeniedException)" in shown
    assert "  image: v1 deployed" in shown  # the rest of the service's facts
