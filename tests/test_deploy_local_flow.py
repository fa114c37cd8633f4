"""`make deploy` from a fresh checkout: the real generated templates, through local_aws.py,
against a moto server process it starts itself (with the certificate local.toml names, which
the listener needs), twice (the second says "no changes"), then `make local-stop`.

This is the slowest deploy test (a cold emulator, three stacks, twice): about 8 s.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import botocore.session
import pytest
from botocore.stub import Stubber

import local_aws
from deployer.manifest import Image, Manifest, StackSpec

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_local_deploy_runs_the_whole_flow_then_reports_no_changes(tmp_path: Path) -> None:
    build = tmp_path / "build" / "local"
    subprocess.run(
        [sys.executable, str(ROOT / "generate.py"), "--env", "local", "--out", str(build)],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env["LOCAL_AWS_STATE_DIR"] = str(tmp_path / "state")
    pid_file = tmp_path / "state" / "moto.pid"
    command = [
        sys.executable, str(ROOT / "local_aws.py"), "deploy",
        "--port", str(free_port()), "--build-dir", str(build), "--yes",
    ]  # fmt: skip

    def run() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=180,
            stdin=subprocess.DEVNULL,
        )  # fmt: skip

    try:
        first = run()
        assert first.returncode == 0, first.stdout + first.stderr
        assert "moto server started" in first.stdout
        assert "created hosted zone" in first.stdout
        assert "(stands in for make push)" in first.stdout
        assert "scalable-app-local-service: created" in first.stdout
        assert "Url" in first.stdout and "https://local.example.com/" in first.stdout

        second = run()
        assert second.returncode == 0, second.stdout + second.stderr
        assert "moto server started" not in second.stdout  # the same emulator, still running
        for stack in ("network", "registry", "service"):
            assert f"scalable-app-local-{stack}: no changes" in second.stdout
        assert "executing" not in second.stdout

        pid = int(pid_file.read_text())
        stop = subprocess.run(
            [sys.executable, str(ROOT / "local_aws.py"), "stop"],
            env=env, cwd=ROOT, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert f"stopped the emulator (PID {pid})" in stop.stdout
        assert not pid_file.exists()
        status = Path(f"/proc/{pid}/status")
        assert not status.exists() or "zombie" in status.read_text()
    finally:
        if pid_file.exists():
            os.kill(int(pid_file.read_text()), signal.SIGTERM)


class _Ecr:
    """Stands in for the emulator's ECR (and deployer.session.Aws): DescribeImages answers
    `code`, or finds the image when `code` is empty."""

    def __init__(self, code: str) -> None:
        self.ecr = botocore.session.get_session().create_client(
            "ecr", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
        )
        self.stubber = Stubber(self.ecr)
        if code:
            self.stubber.add_client_error("describe_images", code)
        else:
            self.stubber.add_response("describe_images", {"imageDetails": []})
        self.stubber.activate()

    def client(self, service: str) -> Any:
        assert service == "ecr"
        return self.ecr


@pytest.mark.parametrize(
    ("code", "user_stacks", "expected_passes"),
    [
        # a new commit: the tag is missing, the repository is there; only what was asked runs
        ("ImageNotFoundException", ["service"], [["--stack", "service"]]),
        ("ImageNotFoundException", [], [[]]),
        # a fresh emulator: the earlier stacks first (never the asked one), then the rest once
        (
            "RepositoryNotFoundException",
            ["service"],
            [["--stack", "network", "--stack", "registry"], ["--stack", "service"]],
        ),
        (
            "RepositoryNotFoundException",
            [],
            [["--stack", "network", "--stack", "registry"], ["--stack", "service"]],
        ),
        ("", ["service"], [["--stack", "service"]]),
    ],
)
def test_local_deploy_registers_a_missing_tag_without_deploying_twice(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    code: str,
    user_stacks: list[str],
    expected_passes: list[list[str]],
) -> None:
    stacks = tuple(
        StackSpec(key, f"app-{key}", tmp_path / f"{key}.json", needs_image=key == "service")
        for key in ("network", "registry", "service")
    )
    manifest = Manifest(
        tmp_path / "manifest.json", "local", "", "us-east-1", False, Image("app", "v2"),
        None, {}, stacks,
    )  # fmt: skip
    calls: list[Any] = []
    monkeypatch.setattr(local_aws, "deploy_py", lambda args, _env: calls.append(args) or 0)
    monkeypatch.setattr(local_aws, "push_stand_in", lambda *_: calls.append("push"))
    fake = _Ecr(code)
    chosen = manifest.select(user_stacks)
    asked = local_aws.stack_args(chosen) if user_stacks else []

    assert local_aws.deploy(manifest, fake, {}, ["--env", "local"], ["--yes"], chosen, asked) == 0
    fake.stubber.assert_no_pending_responses()
    passes = [c[2:-1] for c in calls if c != "push"]
    assert passes == expected_passes
    assert ("push" in calls) is (code != "")  # and only ever just before the last pass
    assert "push" not in calls or calls.index("push") == len(calls) - 2
