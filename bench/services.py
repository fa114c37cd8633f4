"""Benchmark `make templates` (generate + cfn-lint, one process) for environments of N services.

    .venv/bin/python bench/services.py [--counts 1,10,50] [--runs 3]
    .venv/bin/python bench/services.py --baseline /tmp/base-34c37e6 [--runs 5]

Each environment is local.toml's shared tables with N services (`web` on the domain, then
`s<i>` under `/s<i>`, configured alike: they share one template, linted once; with `--unlike`,
each `s<i>` has a variable of its own, so every service has a template of its own, the worst
case), written to a temp directory and generated there with
`generate.py --env <file> --out <dir> --lint`, as `make templates` runs it, with cfn-lint's
record of clean templates removed first (every template linted, as after any change). The
issue's bar: 50 services in at most 2.5x the time of 10. Figures are medians (min-max) of
wall time, in seconds; the load average is printed (the machine is shared), and the median
CPU time (user + system of generate.py and every process it started): where other work holds
the cores, wall time shows the waiting and CPU time still shows the cost.

`--baseline DIR` times the other bar: the one-service case no slower than before environments
held many services. DIR is a checkout of that revision (`git worktree add /tmp/base-34c37e6
34c37e6`), whose `generate.py --env local --out <dir> --lint` (one service, the old layout) is
timed against today's one-service environment, runs alternating so both see the same load. DIR's
own .venv is used if it has one, else this one (the requirements must match).
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from environments.model import Route  # noqa: E402
from environments.services import default_priority  # noqa: E402

HOST = "local.example.com"


def services(count: int, unlike: bool = False) -> str:
    """`web`, then `s<i>` under /s<i>: names whose rule priorities do not collide (a collision
    is refused at load, as it would be for a person's file). `unlike`: each `s<i>` with an
    environment variable of its own value."""
    tables = ["\n[services.web]\nmin_count = 1\n"]
    taken: set[int] = set()
    index = 0
    while len(tables) < count:
        name = f"s{index}"
        index += 1
        number = default_priority(name, Route(HOST, f"/{name}"))
        if number in taken:
            continue
        taken.add(number)
        own = f'environment = {{ BENCH_SERVICE = "{name}" }}\n' if unlike else ""
        tables.append(f'\n[services.{name}]\npath = "/{name}"\nmin_count = 1\n{own}')
    return "".join(tables)


def environment(directory: Path, count: int, unlike: bool = False) -> Path:
    local = (ROOT / "environments" / "local.toml").read_text()
    path = directory / f"bench{count}.toml"
    path.write_text(local[: local.index("[services.")] + services(count, unlike))
    return path


def written(out: Path) -> list[Path]:
    """The templates and the manifest (not the hidden record of clean templates)."""
    return [path for path in out.glob("*.json") if not path.name.startswith(".")]


CPU: list[float] = []  # CPU seconds of each make_templates run, in order


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def make_templates(env: Path | str, out: Path, root: Path = ROOT) -> float:
    (out / ".cfn-lint-clean.json").unlink(missing_ok=True)
    python = root / ".venv" / "bin" / "python"
    executable = str(python) if python.exists() else sys.executable
    command = [executable, "generate.py", "--env", str(env), "--out", str(out), "--lint"]
    start, cpu = time.perf_counter(), _children_cpu()
    result = subprocess.run(command, cwd=root, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    CPU.append(_children_cpu() - cpu)
    if result.returncode != 0:
        sys.exit(f"{' '.join(command)} failed:\n{result.stderr}")
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--counts", default="1,10,50")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--baseline", type=Path, help="a checkout of the one-service revision")
    parser.add_argument(
        "--unlike", action="store_true", help="every service configured differently"
    )
    args = parser.parse_args()
    if args.baseline:
        return baseline(args.baseline, args.runs)
    counts = [int(n) for n in args.counts.split(",")]
    kind = "each configured differently" if args.unlike else "configured alike"
    print(f"load average {os.getloadavg()[0]:.2f}, {args.runs} runs each, services {kind}")
    medians = {}
    with tempfile.TemporaryDirectory() as temp:
        for count in counts:
            env = environment(Path(temp), count, args.unlike)
            out = Path(temp) / f"out{count}"
            out.mkdir()
            times = [make_templates(env, out) for _ in range(args.runs)]
            medians[count] = statistics.median(times)
            cpu = statistics.median(CPU[-args.runs :])
            templates = len(written(out))
            print(
                f"{count:>3} services ({templates} files): {medians[count]:6.2f} s"
                f"   ({min(times):.2f}-{max(times):.2f})   cpu {cpu:.2f} s"
            )
    if 10 in medians and 50 in medians:
        print(f"50 / 10 services: {medians[50] / medians[10]:.2f}x (the bar: 2.5x)")
    print(f"load average {os.getloadavg()[0]:.2f}")
    return 0


def baseline(checkout: Path, runs: int) -> int:
    """The old layout's local.toml against today's one-service environment, alternating."""
    if not (checkout / "generate.py").exists():
        sys.exit(f"--baseline {checkout}: no generate.py there; git worktree add {checkout} <rev>")
    print(f"load average {os.getloadavg()[0]:.2f}, {runs} runs each, alternating")
    times: dict[str, list[float]] = {"before (old layout, local)": [], "today (1 service)": []}
    cpu: dict[str, list[float]] = {label: [] for label in times}
    with tempfile.TemporaryDirectory() as temp:
        env = environment(Path(temp), 1)
        old, new = Path(temp) / "old", Path(temp) / "new"
        old.mkdir()
        new.mkdir()
        for _ in range(runs):
            for label, (where, into, root) in {
                "before (old layout, local)": ("local", old, checkout),
                "today (1 service)": (env, new, ROOT),
            }.items():
                times[label].append(make_templates(where, into, root))
                cpu[label].append(CPU[-1])
        for label, measured in times.items():
            print(
                f"{label:>27}: {statistics.median(measured):6.2f} s"
                f"   ({min(measured):.2f}-{max(measured):.2f})"
                f"   cpu {statistics.median(cpu[label]):.2f} s"
                f"   {len(written(old if 'before' in label else new))} files"
            )
    before, today = (statistics.median(t) for t in times.values())
    print(f"today / before: {today / before:.2f}x (the bar: at most 1.00x)")
    print(f"load average {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
