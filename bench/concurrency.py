"""Benchmark: a first local deploy of every stack of an environment, with the default
concurrency against --concurrency 1, in one run.

    python bench/concurrency.py [--env local] [--runs 3] [--hold 0] [--concurrency 4]

Each run is `local_aws.py deploy --yes --no-verify` in a fresh process against a fresh moto
server (behind the conformance proxy, as every local deploy), so every stack is created: what a
first `make deploy` costs, start-up and bootstrap included. The two settings take turns, in
alternating order; the report gives each one's runs, their medians and the ratio.

moto executes a change set within its ExecuteChangeSet call, where AWS takes minutes: --hold
SECONDS holds each ExecuteChangeSet that long in a relay in front of the emulator (the time a
stack's operation takes; nothing else changes), which is where the graph's concurrency pays
off on AWS. Target (issue 18): with 6 services, the default takes at most half the time of
--concurrency 1; measure it with --env pointing at a 6-service environment once there is one.

What --concurrency bounds, and so what the two settings differ in: the stacks applied at once,
the plans computed before the one question, and the checks after the deploy (the services
side by side). local_aws.py's bootstrap (hosted zone, SSM parameter, certificate, made side by
side) is the same in both.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from moto.server import ThreadedMotoServer  # noqa: E402

from local_aws import conformant  # noqa: E402
from local_proxy import Relay, Reply, Request  # noqa: E402


def holding(seconds: float) -> Callable[[Request], Reply | None]:
    def intercept(request: Request) -> Reply | None:
        if seconds and request.is_cloudformation and request.action() == "ExecuteChangeSet":
            time.sleep(seconds)
        return None  # then forwarded: moto executes it

    return intercept


def first_deploy(env_name: str, build: Path, concurrency: int, hold: float) -> float:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    # moto's state is the process's, shared by every server it starts: emptied, so that each
    # deploy is a first one
    reset = urllib.request.Request(f"http://{host}:{port}/moto-api/reset", method="POST")
    urllib.request.urlopen(reset).close()
    try:
        with (
            conformant(f"http://{host}:{port}") as proxy,
            Relay(proxy.url, holding(hold), name="hold") as relay,
            tempfile.TemporaryDirectory() as locks,
        ):
            env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
            env.update(AWS_ENDPOINT_URL=relay.url, SCALABLE_APP_LOCK_DIR=locks)
            command = [
                sys.executable, str(ROOT / "local_aws.py"), "deploy", "--env", env_name,
                "--build-dir", str(build), "--yes", "--no-verify",
                "--concurrency", str(concurrency),
            ]  # fmt: skip
            start = time.perf_counter()
            done = subprocess.run(
                command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=1800
            )
            took = time.perf_counter() - start
            if done.returncode != 0:
                raise SystemExit(f"deploy failed ({done.returncode}):\n{done.stdout}{done.stderr}")
            return took
    finally:
        server.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--env", default="local")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--hold", type=float, default=0.0, metavar="SECONDS")
    parser.add_argument("--concurrency", type=int, default=4, help="the default's value")
    args = parser.parse_args()
    # A path (/tmp/local6.toml) names its build directory by its stem, as generate.py does.
    build = Path(tempfile.mkdtemp(prefix="bench-concurrency-")) / Path(args.env).stem
    subprocess.run(
        [sys.executable, str(ROOT / "generate.py"), "--env", args.env, "--out", str(build)],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    stacks = len(list(build.glob("*.json"))) - 1  # the manifest is not a stack
    times: dict[int, list[float]] = {args.concurrency: [], 1: []}
    first_deploy(args.env, build, args.concurrency, 0.0)  # unmeasured: warm the file cache
    for run in range(args.runs):
        order = [args.concurrency, 1] if run % 2 == 0 else [1, args.concurrency]
        for concurrency in order:
            times[concurrency].append(first_deploy(args.env, build, concurrency, args.hold))
    load = os.getloadavg()[0]
    print(f"first local deploy of {args.env} ({stacks} stacks), hold {args.hold}s per execution")
    for concurrency, taken in times.items():
        runs = ", ".join(f"{t:.2f}" for t in taken)
        print(f"  --concurrency {concurrency}: median {statistics.median(taken):.2f}s ({runs})")
    ratio = statistics.median(times[args.concurrency]) / statistics.median(times[1])
    print(f"  ratio default/1: {ratio:.2f} (target with 6 services: <= 0.5); load {load:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
