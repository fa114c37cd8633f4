"""deployer.lock: one deploy of an environment at a time, across real processes.

A second process fails at once and names the holder; a child takes over the lock its parent
passed down only when the descriptor is that lock file's; the kernel releases the lock when
its holder dies, however it dies.
"""

from __future__ import annotations

import getpass
import os
import re
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from deployer import lock
from deployer.errors import DeployError

ROOT = Path(__file__).resolve().parent.parent

# Takes the lock at argv[1] (prints "held" and keeps it until its stdin closes), or prints
# why not and exits 3. Run as `holder.py PATH --env local --yes`, as a deploy would be.
HOLDER = """
import sys
from pathlib import Path
from deployer import lock
try:
    held = lock.acquire(Path(sys.argv[1]), "deploy of local")
except lock.Locked as error:
    print(f"locked: {error}", flush=True)
    sys.exit(3)
print("held", flush=True)
sys.stdin.read()
"""


@pytest.fixture
def holder_script(tmp_path: Path) -> Path:
    script = tmp_path / "holder.py"
    script.write_text(HOLDER)
    return script


def _start(
    script: Path, path: Path, *, env: dict[str, str] | None = None, pass_fds: tuple[int, ...] = ()
) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(script), str(path), "--env", "local", "--yes"],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        pass_fds=pass_fds,
    )


@pytest.fixture
def holding(holder_script: Path, tmp_path: Path) -> Iterator[subprocess.Popen[str]]:
    """Another process that holds the lock at tmp_path/deploy-local.lock."""
    process = _start(holder_script, tmp_path / "deploy-local.lock")
    assert process.stdout is not None and process.stdout.readline() == "held\n"
    yield process
    process.kill()
    process.wait()


def _outcome(process: subprocess.Popen[str]) -> tuple[int, str]:
    out, _ = process.communicate(timeout=30)
    return process.returncode, out


def test_second_acquire_fails_at_once_naming_the_holder(
    tmp_path: Path, holding: subprocess.Popen[str]
) -> None:
    with pytest.raises(lock.Locked) as caught:
        lock.acquire(tmp_path / "deploy-local.lock", "deploy of local", environ={})
    assert isinstance(caught.value, DeployError)  # deploy.main reports it like the others
    message = str(caught.value)
    assert message.startswith(
        f"another deploy of local is running: PID {holding.pid} by "
        f"{getpass.getuser()}@{socket.gethostname()} since "
    )
    assert re.search(r" since (\d{4}-\d\d-\d\d )?\d\d:\d\d:\d\d UTC ", message)
    assert message.endswith(
        f" UTC (holder.py {tmp_path / 'deploy-local.lock'} --env local --yes); "
        "wait for it, or stop it"
    )


def test_lock_is_released_when_its_holder_dies(
    tmp_path: Path, holding: subprocess.Popen[str]
) -> None:
    path = tmp_path / "deploy-local.lock"
    with pytest.raises(lock.Locked):
        lock.acquire(path, "deploy of local", environ={})
    holding.send_signal(signal.SIGKILL)  # no chance to clean up
    holding.wait()
    with lock.acquire(path, "deploy of local", environ={}) as held:
        assert held.path == path
    # Released at the end of the with block: another process takes it.
    with lock.acquire(path, "deploy of local", environ={}):
        pass


def test_a_child_takes_over_the_lock_its_parent_passed(tmp_path: Path, holder_script: Path) -> None:
    path = tmp_path / "deploy-local.lock"
    with lock.acquire(path, "deploy of local", environ={}) as held:
        details = path.read_bytes()
        child = _start(holder_script, path, env=held.child_env(), pass_fds=(held.fd,))
        assert child.stdout is not None and child.stdout.readline() == "held\n"
        assert child.stdin is not None
        child.stdin.close()
        assert child.wait(timeout=30) == 0
        # The child's exit did not release the parent's lock, nor rewrite who holds it.
        stranger = _start(holder_script, path)
        code, out = _outcome(stranger)
        assert code == 3 and f"PID {os.getpid()} by" in out
        assert path.read_bytes() == details


def test_a_descriptor_of_another_file_is_not_taken_for_the_lock(
    tmp_path: Path, holder_script: Path, holding: subprocess.Popen[str]
) -> None:
    path = tmp_path / "deploy-local.lock"
    other = tmp_path / "notes.txt"
    other.write_text("not a lock\n")
    with other.open("r+") as foreign:
        env = {lock.LOCK_FD_VAR: str(foreign.fileno())}
        code, out = _outcome(_start(holder_script, path, env=env, pass_fds=(foreign.fileno(),)))
    assert code == 3
    assert out.startswith(f"locked: another deploy of local is running: PID {holding.pid} by")
    assert other.read_text() == "not a lock\n"  # neither locked for us nor written to


def test_a_second_open_of_the_lock_file_is_not_its_holder(
    tmp_path: Path, holder_script: Path, holding: subprocess.Popen[str]
) -> None:
    """The same file, opened anew: flock on it fails while the holder has the lock, so a
    process cannot claim the lock by naming any descriptor of the file."""
    path = tmp_path / "deploy-local.lock"
    with path.open("rb") as reopened:
        env = {lock.LOCK_FD_VAR: str(reopened.fileno())}
        code, out = _outcome(_start(holder_script, path, env=env, pass_fds=(reopened.fileno(),)))
    assert code == 3 and f"PID {holding.pid} by" in out


def test_holder_details_not_written_yet_are_said_so() -> None:
    assert lock.describe_holder(b"") == "a process that has not said who it is yet"
    record = (
        b'{"pid": 7, "user": "alice", "host": "box", "since": "2026-01-02T12:00:03+00:00",'
        b' "command": ["deploy.py", "--env", "local"]}'
    )
    assert lock.describe_holder(record, now=datetime(2026, 1, 2, 18, tzinfo=UTC)) == (
        "PID 7 by alice@box since 12:00:03 UTC (deploy.py --env local)"
    )
    assert lock.describe_holder(record, now=datetime(2026, 1, 3, 1, tzinfo=UTC)) == (
        "PID 7 by alice@box since 2026-01-02 12:00:03 UTC (deploy.py --env local)"
    )


def test_deploy_lock_is_one_per_environment_in_the_checkout(tmp_path: Path) -> None:
    path = lock.deploy_lock_path(ROOT, "local", environ={})
    assert path == ROOT / ".locks" / "deploy-local.lock"
    assert lock.deploy_lock_path(ROOT, "staging", environ={}) != path
    elsewhere = {lock.LOCK_DIR_VAR: str(tmp_path)}
    assert lock.deploy_lock_path(ROOT, "local", elsewhere) == tmp_path / "deploy-local.lock"
