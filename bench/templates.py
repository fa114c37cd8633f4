"""Benchmark the templates step: `make templates` end to end, generation alone, lint alone.

    .venv/bin/python bench/templates.py [--env local] [--runs 5]

- make templates: `make templates ENV=...` as a user runs it (generate + cfn-lint, one process).
- generation, in-process: generate.generate(env, tag) (build every stack, to_dict, render JSON)
  in an interpreter that has already imported it; and cold, in a fresh interpreter that imports
  generate.py, loads the environment and generates (what the first call costs).
- lint alone: cfn-lint on the generated templates, in one fresh process (the CLI, all files).
Figures are medians (min-max) over the runs, in milliseconds.
"""

from __future__ import annotations

import argparse
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


def _timed(action: Callable[[], object], runs: int) -> list[float]:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        action()
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def _run(command: list[str]) -> str:
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        sys.exit(f"{' '.join(command)} failed:\n{result.stdout}{result.stderr}")
    return result.stdout


def _report(label: str, samples: list[float]) -> None:
    print(
        f"{label:<44} {statistics.median(samples):8.1f} ms"
        f"   ({min(samples):.1f}-{max(samples):.1f}, n={len(samples)})"
    )


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
    templates = sorted(
        str(p) for p in (ROOT / "build" / args.env).glob("*.json") if p.name != "manifest.json"
    )
    print(f"environment {args.env}: {len(templates)} stacks; {args.runs} runs each")
    _report(
        "make templates (generate + cfn-lint)",
        _timed(
            lambda: _run(["make", "--no-print-directory", "templates", f"ENV={args.env}"]),
            args.runs,
        ),
    )
    _report(
        "generation, in-process (all stacks)",
        _timed(lambda: generate.generate(env, "bench"), max(args.runs, 20)),
    )
    cold = [
        float(_run([PY, "-c", COLD_GENERATE.format(env=args.env)]).strip())
        for _ in range(args.runs)
    ]
    _report("generation, fresh interpreter incl. imports", cold)
    cfn_lint = str(Path(PY).parent / "cfn-lint")
    _report(
        "lint alone (cfn-lint, one process)",
        _timed(lambda: _run([cfn_lint, "--regions", env.region, "--", *templates]), args.runs),
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
