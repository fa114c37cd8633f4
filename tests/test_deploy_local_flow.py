"""`make deploy` from a fresh checkout: the real generated templates, through local_aws.py,
against a moto server process it starts itself, twice (the second says "no changes"), then
`make local-stop`. The listener's certificate is the one bootstrap imports (self-signed, for
local.toml's domain) and the deployer finds by domain, through ACM's public API.

Also: two local_aws.py at once start one emulator; bootstrap makes each thing once; Ctrl-C
stops local_aws.py with exit 130 and no traceback, whether deploy.py or local_aws.py has it.

The slowest is the whole flow (a cold emulator, three stacks, twice): about 8 s.
"""

from __future__ import annotations

import os
import pty
import select
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import boto3
import botocore.session
import pytest
from botocore.stub import Stubber

import environments
import generate
import local_aws
from deployer import lock, preflight
from deployer import manifest as manifests
from deployer.manifest import Image, Manifest, ServiceSpec, StackSpec
from deployer.params import Resolver

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def local_env(tmp_path: Path) -> dict[str, str]:
    """For a local_aws.py of its own: no AWS_* variables (it starts its emulator), its state
    and its deploy locks under tmp_path (not the checkout's, which a person may be using)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env["LOCAL_AWS_STATE_DIR"] = str(tmp_path / "state")
    env[lock.LOCK_DIR_VAR] = str(tmp_path / "locks")
    return env


def three_stack_manifest(tmp_path: Path) -> Manifest:
    """network, registry and service of app v2, the service needing the image."""
    stacks = tuple(
        StackSpec(
            key, f"app-{key}", tmp_path / f"{key}.json", service="web" if key == "service" else None
        )
        for key in ("network", "registry", "service")
    )
    return Manifest(
        tmp_path / "manifest.json", "local", "", "us-east-1", False,
        (ServiceSpec("web", "service", Image("app", "v2"), "https://x", "/_health"),),
        None, {}, stacks,
    )  # fmt: skip


def test_local_deploy_runs_the_whole_flow_then_reports_no_changes(tmp_path: Path) -> None:
    build = tmp_path / "build" / "local"
    subprocess.run(
        [sys.executable, str(ROOT / "generate.py"), "--env", "local", "--out", str(build)],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    env = local_env(tmp_path)
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
        assert "moto server started" in first.stderr
        assert "created hosted zone" in first.stderr
        assert "imported a self-signed certificate for local.example.com" in first.stderr
        assert "ISSUED for local.example.com" not in first.stderr
        assert "(stands in for make push)" in first.stderr
        assert "scalable-app-local-svc-web: created" in first.stdout
        assert "scalable-app-local-svc-api: created" in first.stdout
        # The service's alarms page the environment stack's topic: its subscription is checked.
        assert "paging: 1 of 1 subscriptions confirmed" in first.stdout
        assert "Url" in first.stdout and "https://local.example.com/" in first.stdout

        second = run()
        assert second.returncode == 0, second.stdout + second.stderr
        assert "moto server started" not in second.stderr  # the same emulator, still running
        assert "imported" not in second.stderr  # found again by its domain
        for stack in ("network", "registry", "svc-web"):
            assert f"scalable-app-local-{stack}: no changes" in second.stdout
        assert "executing" not in second.stdout

        pid = int(pid_file.read_text())
        stop = subprocess.run(
            [sys.executable, str(ROOT / "local_aws.py"), "stop"],
            env=env, cwd=ROOT, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert f"stopped the emulator (PID {pid})" in stop.stderr  # progress: stderr
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
    ("code", "registered"),
    [
        ("ImageNotFoundException", True),  # a new commit: the repository is there, not the tag
        ("", False),  # already there
        ("RepositoryNotFoundException", False),  # its registry is not deployed yet
    ],
)
def test_the_image_is_registered_before_the_first_stack_that_runs_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, code: str, registered: bool
) -> None:
    """deploy.py's before_stack hook (local_aws.py runs deploy.main in-process with it, once,
    in place of two deploy.py runs around the registration)."""
    manifest = three_stack_manifest(tmp_path)
    pushed: list[str] = []
    monkeypatch.setattr(local_aws, "_register", lambda *_: pushed.append("push"))
    fake = _Ecr(code)
    hook = local_aws.registrar(manifest, fake.ecr)
    for spec in manifest.stacks:
        hook(spec)  # network and registry: no image, no ECR call
    fake.stubber.assert_no_pending_responses()
    assert pushed == (["push"] if registered else [])
    if code != "RepositoryNotFoundException":
        hook(manifest.stack("service"))  # once settled, asked no more (no response queued)
        assert len(pushed) <= 1


# ---- two at once ---------------------------------------------------------------------------


def emulators(port: int) -> list[int]:
    """The PIDs of live `local_aws.py serve --port PORT` processes."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            args = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if (
            args[0:1]
            and any(arg.endswith(b"local_aws.py") for arg in args)
            and b"serve" in args
            and str(port).encode() in args
        ):
            found.append(int(entry.name))
    return found


def test_two_ups_at_once_start_one_emulator_that_stop_stops(tmp_path: Path) -> None:
    env, port = local_env(tmp_path), free_port()
    up = [sys.executable, str(ROOT / "local_aws.py"), "up", "--port", str(port)]
    try:
        both = [
            subprocess.Popen(
                up, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
            )
            for _ in range(2)
        ]
        outputs = [process.communicate(timeout=60)[0] for process in both]
        assert [process.returncode for process in both] == [0, 0], outputs
        assert sum("moto server started" in out for out in outputs) == 1, outputs
        for out in outputs:
            assert f"AWS_ENDPOINT_URL=http://127.0.0.1:{port}" in out
        pid = int((tmp_path / "state" / "moto.pid").read_text())
        assert emulators(port) == [pid]

        stop = subprocess.run(
            [sys.executable, str(ROOT / "local_aws.py"), "stop"],
            env=env, cwd=ROOT, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert f"stopped the emulator (PID {pid})" in stop.stderr  # progress: stderr
        assert emulators(port) == []
        assert not (tmp_path / "state" / "moto.pid").exists()
    finally:
        for leaked in emulators(port):
            os.kill(leaked, signal.SIGTERM)


class _Aws:
    """deployer.session.Aws's interface over boto3's default clients (the emulator's)."""

    region = "us-east-1"

    def client(self, service: str) -> Any:
        return boto3.client(service)


def test_bootstrap_makes_what_is_missing_once_and_preflight_then_passes(
    aws: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    generate.write(tmp_path, generate.generate(environments.load("local"), "t"))
    manifest = manifests.load(tmp_path)
    name = "/scalable-app/local/pagerduty-url"
    boto3.client("ssm").put_parameter(Name=name, Value="https://x.test", Type="String")

    local_aws.bootstrap(manifest, _Aws())
    said = capsys.readouterr().err.splitlines()  # progress: stderr
    assert said[0] == "[local-aws] created hosted zone example.com."
    assert said[1].startswith(
        "[local-aws] imported a self-signed certificate for local.example.com into the "
        "emulator's ACM (arn:aws:acm:us-east-1:"
    )
    assert len(said) == 2  # the parameter was there already: kept as it is
    assert boto3.client("ssm").get_parameter(Name=name)["Parameter"]["Value"] == "https://x.test"

    local_aws.bootstrap(manifest, _Aws())  # a second run (or a second process) finds it all
    assert capsys.readouterr().err == ""
    acm = boto3.client("acm")
    (summary,) = acm.list_certificates()["CertificateSummaryList"]
    arn = summary["CertificateArn"]
    detail = acm.describe_certificate(CertificateArn=arn)["Certificate"]
    assert detail["SubjectAlternativeNames"] == ["local.example.com"]
    assert detail["KeyAlgorithm"] == "RSA_2048"
    assert 364 <= (detail["NotAfter"] - detail["NotBefore"]).days <= 366
    tags = acm.list_tags_for_certificate(CertificateArn=arn)["Tags"]
    assert {"Key": "scalable-app:local", "Value": "local.example.com"} in tags
    assert len(boto3.client("route53").list_hosted_zones()["HostedZones"]) == 1

    lines = preflight.prerequisites(boto3.client, manifest, list(manifest.stacks))
    assert lines[0] == f"certificate {arn} ISSUED for local.example.com (found by its domain)"
    assert manifest.stack("environment").parameters_from_certificate == ("CertificateArn",)
    assert Resolver(None, manifest, {}, boto3.client).certificate_arn() == arn


# ---- Ctrl-C --------------------------------------------------------------------------------


def read_until(fd: int, text: str, timeout: float = 60) -> str:
    """What the process writes to `fd` until `text` shows up (a prompt has no newline)."""
    seen, deadline = b"", time.monotonic() + timeout
    while text.encode() not in seen:
        left = deadline - time.monotonic()
        assert left > 0, f"no {text!r} in {seen.decode(errors='replace')!r}"
        ready, _, _ = select.select([fd], [], [], left)
        chunk = os.read(fd, 4096) if ready else b""
        assert chunk or not ready, f"closed before {text!r}: {seen.decode(errors='replace')!r}"
        seen += chunk
    return seen.decode()


def test_ctrl_c_at_deploy_pys_prompt_exits_130_without_a_traceback(
    child_env: dict[str, str], tmp_path: Path
) -> None:
    """Ctrl-C reaches the whole foreground process group, as a terminal sends it: deploy.py
    (waiting at its prompt on a terminal) handles it; local_aws.py only passes on its 130."""
    build = tmp_path / "build"
    generate.write(build, generate.generate(environments.load("local"), "t"))
    env = {**child_env, lock.LOCK_DIR_VAR: str(tmp_path / "locks")}
    controller, terminal = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "local_aws.py"), "deploy", "--build-dir", str(build)],
        env=env, cwd=ROOT, stdin=terminal, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        start_new_session=True,
    )  # fmt: skip
    os.close(terminal)
    try:
        assert process.stdout is not None and process.stderr is not None
        shown = read_until(process.stdout.fileno(), "[y/N]")
        assert "== scalable-app-local-network" in shown
        os.killpg(process.pid, signal.SIGINT)
        out, err = process.communicate(timeout=60)
    finally:
        os.close(controller)
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    assert process.returncode == 130, (out, err)
    assert b"Traceback" not in err and b"Traceback" not in out, err.decode()
    # deploy.py was not killed under its feet: it cleaned up and said so, and nothing ran after;
    # local_aws.py left the Ctrl-C to it (had it taken it too, it would give up on deploy.py,
    # killing it after a quarter of a second, subprocess's grace, and say it was interrupted).
    # one question for the environment: every change set made so far is deleted
    assert b"interrupted at the prompt: 2 change set(s) deleted, nothing changed" in out, (
        out.decode()
    )
    assert b"[local-aws] interrupted" not in err
    assert b"stands in for make push" not in out
    stacks = boto3.client("cloudformation", **_endpoint(child_env)).describe_stacks()["Stacks"]
    assert [s["StackName"] for s in stacks if s["StackStatus"] != "DELETE_COMPLETE"] == []


def test_a_first_local_deploy_asks_one_question(child_env: dict[str, str], tmp_path: Path) -> None:
    """Before, local_aws.py ran deploy.py twice (the registry, the image registered, then the
    service), and a person answered two questions; now one run, with the image registered
    from deploy.py's before_stack hook."""
    build = tmp_path / "build"
    generate.write(build, generate.generate(environments.load("local"), "t"))
    env = {**child_env, lock.LOCK_DIR_VAR: str(tmp_path / "locks")}
    controller, terminal = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "local_aws.py"), "deploy", "--build-dir", str(build),
         "--no-verify"],
        env=env, cwd=ROOT, stdin=terminal, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        start_new_session=True,
    )  # fmt: skip
    os.close(terminal)
    try:
        assert process.stdout is not None
        shown = read_until(process.stdout.fileno(), "[y/N]")
        os.write(controller, b"y\n")
        out, err = process.communicate(timeout=120)
    finally:
        os.close(controller)
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    text = shown + out.decode()
    assert process.returncode == 0, (text, err.decode())
    assert text.count("[y/N]") == 1, text
    assert "scalable-app-local-svc-web: created" in text
    assert "scalable-app-local-svc-api: created" in text
    assert b"stands in for make push" in err


def _endpoint(env: dict[str, str]) -> dict[str, str]:
    return {
        "endpoint_url": env["AWS_ENDPOINT_URL"],
        "region_name": "us-east-1",
        "aws_access_key_id": "testing",
        "aws_secret_access_key": "testing",
    }


def test_ctrl_c_in_local_aws_own_step_exits_130_with_one_line(tmp_path: Path) -> None:
    """Here the step is waiting for another local_aws.py to finish starting the emulator."""
    env = local_env(tmp_path)
    with lock.acquire(tmp_path / "state" / "moto.lock", "test", environ={}):
        process = subprocess.Popen(
            [sys.executable, str(ROOT / "local_aws.py"), "up", "--port", str(free_port())],
            env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            start_new_session=True,
        )  # fmt: skip
        try:
            assert process.stderr is not None  # [local-aws] progress goes to stderr
            shown = read_until(process.stderr.fileno(), "which is starting or preparing")
            assert f"[local-aws] waiting for PID {os.getpid()} by " in shown
            os.killpg(process.pid, signal.SIGINT)
            _out, err = process.communicate(timeout=30)
        finally:
            if process.poll() is None:
                process.kill()
    assert process.returncode == 130
    assert err == b"[local-aws] interrupted\n"
