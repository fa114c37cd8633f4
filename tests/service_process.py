"""Start the service the way the Dockerfile's CMD does, in a real process, for the tests.

The command is read from the Dockerfile; only --port changes (a free one, so that tests and a
`make run` can coexist) and, where a test says so, the app module (tests/service_slow_app.py is
the same app plus a slow route), extra uvicorn flags or extra settings in its environment. It
runs with .venv's python instead of the image's `python`, from the repository root, which is the
image's WORKDIR layout.
"""

from __future__ import annotations

import os
import queue
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from bench.dockerfile import cmd, with_option
from service.contract import APP_MODULE

ROOT = Path(__file__).resolve().parent.parent
SECRET = "hunter2-process-s3cr3t-41d2"  # in the process's environment: must never come out
STARTUP_SECONDS = 20


@dataclass
class Service:
    process: subprocess.Popen[str]
    base_url: str
    lines: queue.Queue[str]
    reader: threading.Thread

    def remaining_output(self) -> list[str]:
        """Every line not consumed yet, once the process has exited and its stdout is drained."""
        self.process.wait(timeout=10)
        self.reader.join(timeout=10)
        return list(self.lines.queue)

    def wait_for_line(self, text: str, timeout: float = 10) -> str:
        deadline = time.monotonic() + timeout
        while True:
            line = self.lines.get(timeout=max(0.01, deadline - time.monotonic()))
            if text in line:
                return line


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def container_command(port: int, app_module: str = APP_MODULE) -> list[str]:
    argv = cmd()
    assert argv[0] == "python"
    argv = [sys.executable, *argv[1:]]
    argv = with_option(argv, "--port", str(port))
    if app_module != APP_MODULE:
        argv[argv.index(APP_MODULE)] = app_module
    return argv


@contextmanager
def running(
    app_module: str = APP_MODULE,
    extra_args: tuple[str, ...] = (),
    environ: Mapping[str, str] | None = None,
) -> Iterator[Service]:
    """The service in a process; `environ` adds settings (HEADER_TIMEOUT...) to its environment."""
    port = free_port()
    env = {**os.environ, "APP_VERSION": "proc1234", "DATABASE_PASSWORD": SECRET}
    env.update({"AWS_SECRET_ACCESS_KEY": SECRET, "PYTHONDONTWRITEBYTECODE": "1"})
    env.update(environ or {})
    process = subprocess.Popen(
        [*container_command(port, app_module), *extra_args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    reader = threading.Thread(target=lambda: [lines.put(line) for line in process.stdout])
    reader.daemon = True
    reader.start()
    service = Service(process, f"http://127.0.0.1:{port}", lines, reader)
    try:
        service.wait_for_line("Uvicorn running on", timeout=STARTUP_SECONDS)
        yield service
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)


def get(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], str]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read().decode()
