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
