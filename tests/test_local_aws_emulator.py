"""The local emulator as a new user meets it: a busy port named with its PID, an emulator that
belongs to the checkout that started it, status that only reads, an endpoint that answers
nothing said in one line (local_aws.py as make runs it, in subprocesses)."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
import test_deploy_support as support
from test_deploy_local_flow import emulators, free_port, local_env

ROOT = Path(__file__).resolve().parent.parent


def local_aws(
    env: dict[str, str], *args: str, script: Path = ROOT / "local_aws.py"
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(script), *args],
        env=env, cwd=ROOT, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL,
    )  # fmt: skip


@pytest.fixture
def listener() -> Iterator[int]:
    """A port this test process listens on, speaking no AWS at all."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield int(sock.getsockname()[1])


def test_a_busy_port_names_its_pid_and_touches_nothing(tmp_path: Path, listener: int) -> None:
    """Before: the PID file of the emulator already recorded was deleted, and a `serve`
    process was left behind; the reason was only in moto.log."""
    env = local_env(tmp_path)
    state = tmp_path / "state"
    state.mkdir()
    (state / "moto.pid").write_text("4242\n")  # another emulator of this checkout's, recorded
    result = local_aws(env, "up", "--port", str(listener))
    assert result.returncode == 1
    assert f"port {listener} is in use by PID {os.getpid()}" in result.stderr
    assert f"LOCAL_AWS_PORT={listener + 1}" in result.stderr  # what to do
    assert "Traceback" not in result.stderr
    assert (state / "moto.pid").read_text() == "4242\n"
    assert emulators(listener) == []


def test_an_emulator_belongs_to_the_checkout_that_started_it(tmp_path: Path) -> None:
    """Before: a second checkout used the first one's emulator silently, with its own deploy
    lock, and changed the first one's stacks."""
    other = tmp_path / "other-checkout"
    other.mkdir()
    shutil.copy2(ROOT / "local_aws.py", other / "local_aws.py")
    port = free_port()
    env = local_env(tmp_path)
    env["PYTHONPATH"] = str(ROOT)  # its deployer package: ours
    other_state = dict(env, LOCAL_AWS_STATE_DIR=str(tmp_path / "other-state"))
    started = local_aws(other_state, "up", "--port", str(port), script=other / "local_aws.py")
    assert started.returncode == 0, started.stderr
    try:
        build = support.write(tmp_path / "build" / "local")
        for command in ("up", "deploy"):
            result = local_aws(env, command, "--port", str(port), "--build-dir", str(build))
            assert result.returncode == 1, result.stderr
            assert f"belongs to the checkout {other}" in result.stderr
            assert f"LOCAL_AWS_PORT={port + 1}" in result.stderr
        assert not (tmp_path / "state" / "moto.pid").exists()
    finally:
        stopped = local_aws(other_state, "stop", script=other / "local_aws.py")
    assert "its state is lost" in stopped.stderr  # make local-stop says what goes with it


def test_status_with_no_emulator_says_none_runs_and_starts_none(tmp_path: Path) -> None:
    """Before: make status started an emulator (and wrote .local/) to show an empty account."""
    build = support.write(tmp_path / "build" / "local")
    env = local_env(tmp_path)
    port = free_port()
    result = local_aws(env, "status", "--port", str(port), "--build-dir", str(build))
    assert result.returncode == 1
    assert f"no emulator runs on 127.0.0.1:{port}" in result.stderr
    assert not (tmp_path / "state").exists()  # nothing written, nothing started
    assert emulators(port) == []
    as_json = local_aws(
        env, "status", "--port", str(port), "--build-dir", str(build), "--output", "json"
    )
    assert json.loads(as_json.stdout)["exit_code"] == 1


def test_status_reads_without_writing_to_the_checkout(
    child_env: dict[str, str], aws: dict[str, str], tmp_path: Path
) -> None:
    """A read-only checkout: the state directory cannot be created (a file is in its way,
    which stops root too), and status still reads. Before: OSError on .local/moto.lock."""
    build = support.write(tmp_path / "build" / "local")
    (tmp_path / "file").write_text("")
    env = dict(child_env, LOCAL_AWS_STATE_DIR=str(tmp_path / "file" / "state"))
    result = local_aws(env, "status", "--build-dir", str(build))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "not deployed" in result.stdout.lower()
    assert "Traceback" not in result.stderr


def test_an_endpoint_that_answers_nothing_is_one_line_and_quick(tmp_path: Path) -> None:
    """Before: a 103-line traceback from the bootstrap, after botocore's retries."""
    build = support.write(tmp_path / "build" / "local")
    env = local_env(tmp_path)
    endpoint = f"http://127.0.0.1:{free_port()}"
    env.update(AWS_ENDPOINT_URL=endpoint, AWS_ACCESS_KEY_ID="x", AWS_SECRET_ACCESS_KEY="x")
    for command in (
        [sys.executable, str(ROOT / "local_aws.py"), "plan", "--build-dir", str(build)],
        [sys.executable, str(ROOT / "deploy.py"), "plan", "--env", "local", "--build-dir",
         str(build)],
        [sys.executable, str(ROOT / "deploy.py"), "status", "--env", "local", "--build-dir",
         str(build)],
    ):  # fmt: skip
        result = subprocess.run(
            command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=60
        )
        output = result.stdout + result.stderr
        assert result.returncode == 1, output
        assert f"nothing answers at {endpoint} (AWS_ENDPOINT_URL)" in output
        assert "Traceback" not in output


def test_a_stopped_emulator_is_said_to_lose_its_state(tmp_path: Path) -> None:
    env = local_env(tmp_path)
    port = free_port()
    assert local_aws(env, "up", "--port", str(port)).returncode == 0
    pid = int((tmp_path / "state" / "moto.pid").read_text())
    urllib.request.urlopen(f"http://127.0.0.1:{port}/moto-api/", timeout=5).close()
    stopped = local_aws(env, "stop")
    assert f"stopped the emulator (PID {pid}): its state is lost" in stopped.stderr
    for _ in range(50):
        if not Path(f"/proc/{pid}").exists():
            break
        time.sleep(0.1)
