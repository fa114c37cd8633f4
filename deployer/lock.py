"""One deploy of an environment at a time: an exclusive `flock` on a lock file.

The kernel releases a flock when the last descriptor of its open file goes, so a holder that
dies (crash, SIGKILL, a closed terminal) never leaves a stale lock behind. The holder writes
who it is into the file, so that the next one can say who holds it.

A parent that holds the lock across several runs of a child (local_aws.py running deploy.py)
passes its descriptor down (`Lock.child_env()`, `pass_fds=(lock.fd,)`): the child's acquire()
takes it over when it is an open descriptor of the same lock file and flock on it succeeds
(as it does on the parent's own open file, and on no other while the parent holds it).
"""

from __future__ import annotations

import fcntl
import getpass
import json
import os
import shlex
import socket
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any

from deployer.errors import DeployError

# Names the descriptor of the deploy lock a parent passed to this process.
LOCK_FD_VAR = "SCALABLE_APP_DEPLOY_LOCK_FD"
# Names another directory for the deploy locks than the checkout's .locks/.
LOCK_DIR_VAR = "SCALABLE_APP_LOCK_DIR"


class Locked(DeployError):
    """Another process holds the lock; str() says who and what to do."""

    def __init__(self, what: str, holder: str) -> None:
        self.what = what
        self.holder = holder
        super().__init__(f"another {what} is running: {holder}; wait for it, or stop it")


class Lock:
    """A held lock; released by release(), at the end of a with block, or at process exit."""

    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self.fd = fd

    def child_env(self) -> dict[str, str]:
        """The variable that lets a child (started with pass_fds=(self.fd,)) take it over."""
        return {LOCK_FD_VAR: str(self.fd)}

    def release(self) -> None:
        """Close our descriptor. Never LOCK_UN: the lock belongs to the open file, which a
        parent or child may share, and unlocking would release theirs too."""
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def __enter__(self) -> Lock:
        return self

    def __exit__(
        self,
        _type: type[BaseException] | None,
        _value: BaseException | None,
        _traceback: TracebackType | None,
    ) -> None:
        self.release()


def deploy_lock_path(root: Path, env_name: str, environ: Mapping[str, str] | None = None) -> Path:
    """The lock a deploy (or plan, cancel...) of the environment holds: one per checkout, in
    root/.locks, or in the directory LOCK_DIR_VAR names (in `environ`, os.environ by default),
    for runs that must not meet the checkout's own (tests, each against its own emulator)."""
    directory = (os.environ if environ is None else environ).get(LOCK_DIR_VAR)
    return (Path(directory) if directory else root / ".locks") / f"deploy-{env_name}.lock"


def acquire(
    path: Path, what: str, *, wait: bool = False, environ: Mapping[str, str] | None = None
) -> Lock:
    """The lock at `path`, taken over from the parent when it passed it (LOCK_FD_VAR in
    `environ`, os.environ by default), else taken now: at once, or Locked naming the holder
    (`what` says what it guards, e.g. "deploy of local"); with `wait`, once it is free."""
    path.parent.mkdir(parents=True, exist_ok=True)
    inherited = _inherited(path, os.environ if environ is None else environ)
    if inherited is not None:
        return Lock(path, inherited)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
    except BlockingIOError:
        holder = describe_holder(os.pread(fd, 65536, 0))
        os.close(fd)
        raise Locked(what, holder) from None
    except BaseException:  # Ctrl-C while waiting: do not leak the descriptor
        os.close(fd)
        raise
    _write_holder(fd)
    return Lock(path, fd)


def _inherited(path: Path, environ: Mapping[str, str]) -> int | None:
    """The descriptor named in LOCK_FD_VAR, if it is an open descriptor of the lock file at
    `path` and holds (or now takes) its flock; None otherwise (the caller takes the lock
    itself, which fails naming the holder if someone else has it)."""
    try:
        fd = int(environ.get(LOCK_FD_VAR, ""))
        opened, wanted = os.fstat(fd), os.stat(path)
    except (ValueError, OSError):
        return None
    if (opened.st_dev, opened.st_ino) != (wanted.st_dev, wanted.st_ino):
        return None  # some other file: not ours to lock, close or write
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return None
    os.set_inheritable(fd, False)  # ours now; not for our own children unless passed on
    return fd


def _write_holder(fd: int) -> None:
    record = {
        "pid": os.getpid(),
        "user": _user(),
        "host": socket.gethostname(),
        "since": datetime.now(UTC).isoformat(timespec="seconds"),
        "command": [Path(sys.argv[0]).name, *sys.argv[1:]] if sys.argv else [],
    }
    data = (json.dumps(record) + "\n").encode()
    os.ftruncate(fd, 0)
    os.pwrite(fd, data, 0)


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry for this UID (some containers)
        return str(os.getuid())


def describe_holder(content: bytes, now: datetime | None = None) -> str:
    """'PID 123 by alice@host since 12:00:03 UTC (deploy.py --env local --yes)'."""
    try:
        record: dict[str, Any] = json.loads(content)
        since = datetime.fromisoformat(record["since"]).astimezone(UTC)
        command = shlex.join(record["command"])
        who = f"PID {record['pid']} by {record['user']}@{record['host']}"
    except (ValueError, KeyError, TypeError):
        # The holder took the lock and has not written its details yet (or wrote no JSON).
        return "a process that has not said who it is yet"
    today = (now or datetime.now(UTC)).date() == since.date()
    when = since.strftime("%H:%M:%S" if today else "%Y-%m-%d %H:%M:%S")
    return f"{who} since {when} UTC ({command})"
