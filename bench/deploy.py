"""Benchmark: deploy.py vs `aws cloudformation deploy`, one stack, against moto's server.

    python bench/deploy.py [--env local] [--stack network] [--runs 3]

Both tools deploy the same generated template (build/<env>/<stack>.json) with the same
parameters and tags, first into an empty emulator, then again with nothing changed. Each run
is a fresh process (start-up counts: it is what a person waits for). The emulator is reset
before each first deploy, and each tool runs once unmeasured first, so that neither the
emulator's lazy start nor a cold file cache is charged to one of them. The tools take turns,
in alternating order, and the report gives medians and the load average before and after.
API calls and the clients created are counted in one extra run of each, through botocore's
`before-call` event hook. awscli lives in .venv-bench (it carries its own botocore).
Target: ours takes at most 0.7 times as long as aws's, for both the first and the no-change
deploy.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH_VENV = ROOT / ".venv-bench"
AWSCLI = "awscli==1.46.3"
TARGET = 0.7

# Runs a tool's entry point with every botocore client counting its API calls.
COUNTER = r"""
import atexit, collections, json, os, runpy, sys
try:  # awscli 1.46 carries its own botocore, imported as `botocore` once awscli is
    import awscli
except ImportError:
    pass
import botocore.session as sessions
calls = collections.Counter()
_create = sessions.Session.create_client
def create_client(self, *args, **kwargs):
    client = _create(self, *args, **kwargs)
    service = client.meta.service_model.service_name
    calls["client:" + service] += 1
    def count(model, **_):
        calls[service + ":" + model.name] += 1
    client.meta.events.register("before-call", count)
    return client
sessions.Session.create_client = create_client
atexit.register(lambda: open(os.environ["BENCH_CALLS"], "w").write(json.dumps(calls)))
if sys.argv[1] == "-m":
    sys.argv = sys.argv[2:]
    runpy.run_module(sys.argv[0], run_name="__main__", alter_sys=True)
else:
    sys.argv = sys.argv[1:]
    sys.path.insert(0, os.path.dirname(os.path.abspath(sys.argv[0])))
    runpy.run_path(sys.argv[0], run_name="__main__")
"""


def ensure_awscli() -> Path:
    python = BENCH_VENV / "bin" / "python"
    if not (BENCH_VENV / "bin" / "aws").exists():
        print(f"installing {AWSCLI} into {BENCH_VENV} (once)", flush=True)
        if not python.exists():
            subprocess.run([sys.executable, "-m", "venv", str(BENCH_VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", AWSCLI], check=True)
    return python


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def post(url: str) -> None:
    urllib.request.urlopen(urllib.request.Request(url, method="POST"), timeout=10).close()


def start_emulator() -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    moto = Path(sys.executable).parent / "moto_server"
    process = subprocess.Popen(
        [str(moto), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=1).close()
            return process, endpoint
        except OSError:
            time.sleep(0.1)
    process.terminate()
    sys.exit("moto_server did not start")


def timed(command: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall-clock and CPU (user + system) seconds of one run of command."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    result = subprocess.run(
        command, env=env, cwd=ROOT, stdin=subprocess.DEVNULL, capture_output=True, text=True
    )
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if result.returncode != 0:
        sys.exit(
            f"{' '.join(command)} failed ({result.returncode}):\n{result.stdout}{result.stderr}"
        )
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return elapsed, cpu


def counted(python: str, entry: list[str], env: dict[str, str]) -> dict[str, int]:
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        timed([python, "-c", COUNTER, *entry], {**env, "BENCH_CALLS": out.name})
        return json.loads(Path(out.name).read_text() or "{}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--env", default="local")
    parser.add_argument("--stack", default="network", help="a stack without cross-stack inputs")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    sys.path.insert(0, str(ROOT))
    from deployer import manifest as manifests

    manifest = manifests.load(ROOT / "build" / args.env)
    spec = manifest.stack(args.stack)
    if spec.parameters_from_stacks or spec.parameters_from_hosted_zone or spec.service:
        sys.exit(f"stack {spec.key} needs other stacks or an image: pick a standalone one")
    bench_python = ensure_awscli()
    load = os.getloadavg()[0]
    emulator, endpoint = start_emulator()
    # Bytecode caching on, as on any workstation (pip compiled awscli's and botocore's at
    # install; without this, our source modules would be recompiled on every run).
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("AWS_") and k != "PYTHONDONTWRITEBYTECODE"
    }
    env.update(
        AWS_ENDPOINT_URL=endpoint,
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION=manifest.region,
        AWS_REGION=manifest.region,
    )
    env.update({var: "bench-value" for var in spec.parameters_from_env.values()})
    parameters = {**spec.parameters, **{k: "bench-value" for k in spec.parameters_from_env}}
    ours = ["deploy.py", "--env", args.env, "--stack", spec.key, "--yes"]
    theirs = [
        "-m", "awscli", "cloudformation", "deploy",
        "--stack-name", spec.stack_name,
        "--template-file", str(spec.template_path),
        "--no-fail-on-empty-changeset",
    ]  # fmt: skip
    if parameters:
        theirs += ["--parameter-overrides", *(f"{k}={v}" for k, v in parameters.items())]
    if spec.capabilities:
        theirs += ["--capabilities", *spec.capabilities]
    if spec.tags:
        theirs += ["--tags", *(f"{k}={v}" for k, v in spec.tags.items())]
    tools = {
        "deploy.py": [sys.executable, *ours],
        "aws cloudformation deploy": [str(bench_python), *theirs],
    }
    reset = f"{endpoint}/moto-api/reset"
    try:
        for command in tools.values():  # warm the emulator and the file cache; not measured
            post(reset)
            timed(command, env)
            timed(command, env)
        times: dict[tuple[str, str], list[tuple[float, float]]] = {}
        for run in range(args.runs):
            for tool, command in list(tools.items())[:: 1 if run % 2 == 0 else -1]:
                post(reset)
                times.setdefault((tool, "first"), []).append(timed(command, env))
                times.setdefault((tool, "no change"), []).append(timed(command, env))
        load_after = os.getloadavg()[0]
        calls = {}
        for tool, command in tools.items():
            post(reset)
            calls[(tool, "first")] = counted(command[0], command[1:], env)
            calls[(tool, "no change")] = counted(command[0], command[1:], env)
    finally:
        emulator.terminate()
        emulator.wait()

    print(f"\nstack {spec.stack_name} ({spec.template_path.name}), {args.runs} runs, medians")
    print(f"load average: {load:.2f} before, {load_after:.2f} after, on {os.cpu_count()} CPUs")
    print(f"{'':28}{'first deploy':>20}{'no change':>20}")
    print(f"{'':28}{'wall':>10}{'cpu':>10}{'wall':>10}{'cpu':>10}")
    medians = {
        key: tuple(statistics.median(run[i] for run in values) for i in (0, 1))
        for key, values in times.items()
    }
    for tool in tools:
        cells = [f"{v:>9.2f}s" for case in ("first", "no change") for v in medians[(tool, case)]]
        print(f"{tool:28}{''.join(cells)}")
        spread = [
            f"{min(walls):.2f}-{max(walls):.2f}".rjust(10) + " " * 10
            for walls in (
                [run[0] for run in times[(tool, case)]] for case in ("first", "no change")
            )
        ]
        print(f"{'  wall min-max':28}{''.join(spread)}".rstrip())
    ok = True
    for case in ("first", "no change"):
        ours, theirs = medians[("deploy.py", case)], medians[("aws cloudformation deploy", case)]
        wall, cpu = ours[0] / theirs[0], ours[1] / theirs[1]
        pairs = zip(
            times[("deploy.py", case)], times[("aws cloudformation deploy", case)], strict=True
        )
        paired = statistics.median(mine[0] / other[0] for mine, other in pairs)
        ok &= wall <= TARGET
        print(
            f"ratio {case:>9}: wall {wall:.2f}, cpu {cpu:.2f} (target: wall <= {TARGET}); "
            f"run by run, median wall {paired:.2f}"
        )
    print("\nCloudFormation API calls per deploy [other services' calls; clients created]")
    for (tool, case), counts in calls.items():
        cfn = {k.split(":")[1]: v for k, v in counts.items() if k.startswith("cloudformation:")}
        clients = sorted(k.split(":")[1] for k in counts if k.startswith("client:"))
        other = {
            k: v for k, v in counts.items() if not k.startswith(("cloudformation:", "client:"))
        }
        detail = ", ".join(f"{k} {v}" for k, v in sorted(cfn.items()))
        print(
            f"  {tool} / {case}: {sum(cfn.values())} ({detail}) "
            f"[{json.dumps(other)}; {', '.join(clients)}]"
        )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
