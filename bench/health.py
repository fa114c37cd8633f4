"""Benchmark /_health: this service vs a bare ASGI app vs Flask's development server.

One go, same machine, loopback only, bounded time (ROUNDS x 4 x (WARMUP + DURATION + ~1) s,
about two and a half minutes by default). The servers take turns, round after round, and the
median of each figure is reported, so that a burst of other work on the machine hits all alike:
  1. this service, started exactly as the Dockerfile's CMD (only --host/--port changed, to stay
     on 127.0.0.1 and a free port), one uvicorn worker: plain GET /_health is answered by
     service/protocol.py inside uvicorn's HTTP protocol;
  2. bench/bare_asgi.py, same command line but uvicorn's stock httptools protocol: the floor of
     what an ASGI app can do here;
  3. bench/flask_app.py on Flask's threaded development server (what the original system ran);
  4. the service again on /_health?asgi: the query string skips the protocol-level answer, so
     this is the ASGI path (ServiceApp's fast path in front of Starlette), what
     `Connection: close` and HTTP/1.0 health checks get.
Each is measured with wrk, 50 connections, one thread. On a multi-core machine the server is
pinned to CPU 0 and wrk to CPU 1 so that they do not fight for the same core. CPU us/req is the
server's own CPU time (user + system, /proc) per request: a busy machine moves it far less than
req/s and latency, which also depend on wrk and every other process getting a CPU.

Needs wrk (C load generator, Debian package):  apt-get update && apt-get install -y wrk
Run:  .venv/bin/python bench/health.py [--duration 8] [--rounds 3] [--connections 50]
CI does not run this; the figures go in the issue's note, not in a test.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.dockerfile import cmd, with_option  # noqa: E402
from service.contract import APP_MODULE, HEALTH_PATH  # noqa: E402

BARE_APP = "bare_asgi:app"


@dataclass(frozen=True)
class Result:
    name: str
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    cpu_us_per_request: float  # the server's CPU time per request: what other load cannot skew
    errors: str


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def servers(port: int) -> dict[str, tuple[list[str], str]]:
    """name -> (command line, path to load) for each server, in the order reported."""
    service = [sys.executable, *cmd()[1:]]
    service = with_option(with_option(service, "--host", "127.0.0.1"), "--port", str(port))
    # The floor runs on uvicorn's stock httptools protocol with the service's other flags.
    bare = with_option(service, "--http", "httptools")
    bare = [BARE_APP if arg == APP_MODULE else arg for arg in bare] + ["--app-dir", "bench"]
    return {
        "service /_health (as deployed)": (service, HEALTH_PATH),
        "bare ASGI app (uvicorn)": (bare, HEALTH_PATH),
        "Flask dev server": ([sys.executable, "bench/flask_app.py", str(port)], HEALTH_PATH),
        # A query string skips the protocol-level answer: this is the ASGI fast path in
        # ServiceApp, what `Connection: close` and HTTP/1.0 checks get.
        "service /_health?asgi (ASGI path)": (service, HEALTH_PATH + "?asgi"),
    }


def pin(cpu: int) -> None:
    if len(os.sched_getaffinity(0)) > 1:
        os.sched_setaffinity(0, {cpu})


def wait_until_up(url: str, deadline: float) -> None:
    while True:
        try:
            urllib.request.urlopen(url, timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def parse_latency(text: str, percentile: str) -> float:
    match = re.search(rf"^\s*{percentile}%\s+([\d.]+)(us|ms|s)\s*$", text, re.MULTILINE)
    if not match:
        raise ValueError(f"no {percentile}% latency in wrk output:\n{text}")
    value, unit = float(match.group(1)), match.group(2)
    return value * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def run_wrk(url: str, seconds: int, connections: int) -> str:
    command = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", url]
    return subprocess.run(
        command, check=True, capture_output=True, text=True, preexec_fn=lambda: pin(1)
    ).stdout


def measure(name: str, argv: list[str], port: int, path: str, args: argparse.Namespace) -> Result:
    url = f"http://127.0.0.1:{port}{path}"
    server = subprocess.Popen(
        argv,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "APP_VERSION": "bench"},
        preexec_fn=lambda: pin(0),
    )
    try:
        wait_until_up(url, time.monotonic() + 15)
        run_wrk(url, args.warmup, args.connections)
        cpu_before = cpu_seconds(server.pid)
        out = run_wrk(url, args.duration, args.connections)
        cpu = cpu_seconds(server.pid) - cpu_before
    finally:
        server.terminate()
        server.wait(timeout=30)
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    requests = int(re.search(r"(\d+) requests in", out).group(1))
    errors = re.search(r"Socket errors:.*|Non-2xx.*", out)
    return Result(
        name,
        rps,
        parse_latency(out, "50"),
        parse_latency(out, "99"),
        cpu / requests * 1e6,
        errors.group(0) if errors else "",
    )


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, all its threads, from /proc (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=8, help="seconds measured per server")
    parser.add_argument("--warmup", type=int, default=2, help="seconds of warm-up per server")
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3, help="turns per server")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("wrk not found: apt-get update && apt-get install -y wrk", file=sys.stderr)
        return 1

    print(f"load average before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs", flush=True)
    rounds: list[list[Result]] = []
    for number in range(1, args.rounds + 1):
        rounds.append([measure(*plan, args) for plan in _plans()])
        print(f"round {number}: " + ", ".join(f"{r.requests_per_second:.0f}" for r in rounds[-1]))
    medians = [median_result([round_[i] for round_ in rounds]) for i in range(len(rounds[0]))]
    # The best round of each server: the one least disturbed by other work on the machine
    # (the reasoning behind timeit's minimum). Both are shown; the targets are judged on both.
    bests = [
        max((round_[i] for round_ in rounds), key=lambda r: r.requests_per_second)
        for i in range(len(rounds[0]))
    ]
    for title, results in (("median of rounds", medians), ("best round", bests)):
        report(title, results)
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    return 0


def report(title: str, results: list[Result]) -> None:
    service, bare, flask, _ = results
    print(f"\n{title + ':':40} {'req/s':>10} {'p50 ms':>8} {'p99 ms':>8} {'CPU us/req':>11}")
    for r in results:
        line = (
            f"{r.name:40} {r.requests_per_second:10.0f} {r.p50_ms:8.2f} {r.p99_ms:8.2f}"
            f" {r.cpu_us_per_request:11.1f}"
        )
        print(line + (f"  ({r.errors})" if r.errors else ""))
    ratio_bare = service.requests_per_second / bare.requests_per_second
    cpu_bare = bare.cpu_us_per_request / service.cpu_us_per_request
    ratio_flask = service.requests_per_second / flask.requests_per_second
    cpu_flask = flask.cpu_us_per_request / service.cpu_us_per_request
    print(f"service / bare ASGI: {ratio_bare:.0%} by req/s, {cpu_bare:.0%} by CPU (target >= 75%)")
    print(f"service / Flask: {ratio_flask:.1f}x by req/s, {cpu_flask:.1f}x by CPU (target >= 15x)")
    print(f"service p99: {service.p99_ms:.2f} ms (target < 5 ms)")


def median_result(results: list[Result]) -> Result:
    return Result(
        results[0].name,
        statistics.median(r.requests_per_second for r in results),
        statistics.median(r.p50_ms for r in results),
        statistics.median(r.p99_ms for r in results),
        statistics.median(r.cpu_us_per_request for r in results),
        "; ".join(r.errors for r in results if r.errors),
    )


def _plans() -> list[tuple[str, list[str], int, str]]:
    plans = []
    for name in servers(0):
        port = free_port()
        argv, path = servers(port)[name]
        plans.append((name, argv, port, path))
    return plans


if __name__ == "__main__":
    sys.exit(main())
