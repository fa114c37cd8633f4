"""Benchmark the templates step: `make templates` end to end, generation alone, lint alone.

    .venv/bin/python bench/templates.py [--env local] [--runs 5]

- make templates: `make templates ENV=...` as a user runs it (generate, then cfn-lint on every
  core), twice: with cfn-lint's record of clean templates removed first (as after any template
  change: every template is linted), and as it is (nothing changed since the last clean lint).
- generation, in-process: generate.generate(env, tag) (build every stack, to_dict, render JSON)
  in an interpreter that has already imported it; and cold, in a fresh interpreter that imports
  generate.py, loads the environment and generates (what the first call costs).
- lint alone: cfn-lint on the generated templates, in one fresh process (the CLI, all files).
Figures are medians (min-max) over the runs, in milliseconds of wall time, then the median CPU
time (user + system, of this process or of the child processes): on a shared machine, CPU time
shows the cost when wall time also shows the waiting for a core. The load average is printed.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
COLD_GENERATE = (
    "import time; t = time.perf_counter(); import generate; from environments import load; "
    "generate.generate(load({env!r}), 'bench'); print((time.perf_counter() - t) * 1000)"
)


def _cpu() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _timed(action: Callable[[], object], runs: int) -> tuple[list[float], list[float]]:
    wall, cpu = [], []
    for _ in range(runs):
        start, start_cpu = time.perf_counter(), _cpu()
        action()
        wall.append((time.perf_counter() - start) * 1000)
        cpu.append((_cpu() - start_cpu) * 1000)
    return wall, cpu


def _run(command: list[str]) -> str:
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        sys.exit(f"{' '.join(command)} failed:\n{result.stdout}{result.stderr}")
    return result.stdout


def _report(label: str, timings: tuple[list[float], list[float] | None]) -> None:
    wall, cpu = timings
    line = (
        f"{label:<44} {statistics.median(wall):8.1f} ms"
        f"   ({min(wall):.1f}-{max(wall):.1f}, n={len(wall)})"
    )
    if cpu:
        line += f"   cpu {statistics.median(cpu):.1f} ms"
    print(line)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", default="local")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    import generate
    from environments import load

    env = load(args.env)
    _run(["make", "--no-print-directory", "templates", f"ENV={args.env}"])  # warm caches, venv
    build = ROOT / "build" / args.env
    templates = sorted(
        str(p) for p in build.glob("*.json") if p.name not in {"manifest.json", generate.LINT_CACHE}
    )
    load_1m = os.getloadavg()[0]
    print(
        f"environment {args.env}: {len(templates)} stacks; {args.runs} runs each; "
        f"{os.cpu_count()} cores, load average {load_1m:.2f}"
    )
    make_templates = ["make", "--no-print-directory", "templates", f"ENV={args.env}"]

    def changed() -> None:
        (build / generate.LINT_CACHE).unlink(missing_ok=True)
        _run(make_templates)

    _report("make templates, every template linted", _timed(changed, args.runs))
    _report("make templates, nothing changed", _timed(lambda: _run(make_templates), args.runs))
    _report(
        "generation, in-process (all stacks)",
        _timed(lambda: generate.generate(env, "bench"), max(args.runs, 20)),
    )
    cold = [
        float(_run([PY, "-c", COLD_GENERATE.format(env=args.env)]).strip())
        for _ in range(args.runs)
    ]
    _report("generation, fresh interpreter incl. imports", (cold, None))
    cfn_lint = str(Path(PY).parent / "cfn-lint")
    _report(
        "lint alone (cfn-lint, one process)",
        _timed(lambda: _run([cfn_lint, "--regions", env.region, "--", *templates]), args.runs),
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
