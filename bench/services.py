"""Benchmark `make templates` (generate + cfn-lint, one process) for environments of N services.

    .venv/bin/python bench/services.py [--counts 1,10,50] [--runs 3]

Each environment is local.toml's shared tables with N services (`web` on the domain, then
`s<i>` under `/s<i>`), written to a temp directory and generated there with
`generate.py --env <file> --out <dir> --lint`, as `make templates` runs it, with cfn-lint's
record of clean templates removed first (every template linted, as after any change). The
issue's bar: 50 services in at most 2.5x the time of 10. Figures are medians (min-max) of
wall time, in seconds; the load average is printed (the machine is shared).
"""

from __future__ import annotations

import argparse
import os
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


def services(count: int) -> str:
    """`web`, then `s<i>` under /s<i>: names whose rule priorities do not collide (a collision
    is refused at load, as it would be for a person's file)."""
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
        tables.append(f'\n[services.{name}]\npath = "/{name}"\nmin_count = 1\n')
    return "".join(tables)


def environment(directory: Path, count: int) -> Path:
    local = (ROOT / "environments" / "local.toml").read_text()
    path = directory / f"bench{count}.toml"
    path.write_text(local[: local.index("[services.")] + services(count))
    return path


def make_templates(env: Path, out: Path) -> float:
    (out / ".cfn-lint-clean.json").unlink(missing_ok=True)
    command = [sys.executable, "generate.py", "--env", str(env), "--out", str(out), "--lint"]
    start = time.perf_counter()
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        sys.exit(f"{' '.join(command)} failed:\n{result.stderr}")
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--counts", default="1,10,50")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    counts = [int(n) for n in args.counts.split(",")]
    print(f"load average {os.getloadavg()[0]:.2f}, {args.runs} runs each")
    medians = {}
    with tempfile.TemporaryDirectory() as temp:
        for count in counts:
            env = environment(Path(temp), count)
            out = Path(temp) / f"out{count}"
            out.mkdir()
            times = [make_templates(env, out) for _ in range(args.runs)]
            medians[count] = statistics.median(times)
            templates = len(list(out.glob("*.json")))
            print(
                f"{count:>3} services ({templates} files): {medians[count]:6.2f} s"
                f"   ({min(times):.2f}-{max(times):.2f})"
            )
    if 10 in medians and 50 in medians:
        print(f"50 / 10 services: {medians[50] / medians[10]:.2f}x (the bar: 2.5x)")
    print(f"load average {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
