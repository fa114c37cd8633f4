"""cfn-lint over many templates on every core, through cfn-lint's public runner API.

cfn-lint spends ~0.3 s of CPU on each of our templates (its JSON-schema property validation)
after ~1 s of imports and rule loading. One process pays the fixed part once and then lints
every template in turn on one core; here the parent pays it once (imports, configuration, the
rules), forks one worker per core that inherits all of it, and hands out one template at a time,
the largest first so the last template to finish is a small one. Every template is linted whole,
with the rules and configuration `lint_by_config` would use (and cfn_lint_patches' memoizations);
the messages come back in cfn-lint's own order (the files sorted), whichever worker finished first.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

import cfn_lint_patches

if TYPE_CHECKING:
    from cfnlint.config import ConfigMixIn
    from cfnlint.rules import Rules

# What a forked worker lints with: set by the parent before the fork, inherited by the workers
# (fork copies the loaded rules; nothing is pickled but a path and the messages).
_LINTER: tuple[ConfigMixIn, Rules] | None = None


def cores() -> int:
    """The cores this process may run on (its affinity, not the machine's count)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def lint(paths: Sequence[Path], region: str, workers: int | None = None) -> list[tuple[str, str]]:
    """cfn-lint at its default level on each file: (file name, message) for every problem, in
    cfn-lint's order of the files (sorted); none when all is clean. `workers` defaults to the
    cores available; one worker (or one template) lints in this process."""
    global _LINTER
    from cfnlint.api import ManualArgs  # ~1 s of imports, paid once, before any fork
    from cfnlint.config import ConfigMixIn
    from cfnlint.runner import Runner

    config = ConfigMixIn(**ManualArgs(templates=[str(p) for p in paths], regions=[region]))
    config.validate()
    rules = Runner(config).rules
    cfn_lint_patches.apply(rules)
    _LINTER = (config, rules)
    # cfn-lint's own order (its configuration globs and sorts the paths), so the messages read
    # as `cfn-lint` prints them.
    files: list[str] = config.templates
    count = min(len(files), workers or cores())
    if count <= 1:
        found = [_lint_one(file) for file in files]
    else:
        # The largest first: they bound the run's length when handed out last.
        order = sorted(range(len(files)), key=lambda i: -os.path.getsize(files[i]))
        context = multiprocessing.get_context("fork")
        with ProcessPoolExecutor(max_workers=count, mp_context=context) as pool:
            results = dict(zip(order, pool.map(_lint_one, [files[i] for i in order]), strict=True))
        found = [results[i] for i in range(len(files))]
    return [
        (Path(f).name, message)
        for f, messages in zip(files, found, strict=True)
        for message in messages
    ]


def _lint_one(path: str) -> list[str]:
    """The messages cfn-lint gives for one file, with the inherited configuration and rules."""
    from cfnlint.runner import run_template_by_file_path

    assert _LINTER is not None, "lint() sets the linter before it forks"
    config, rules = _LINTER
    matches = run_template_by_file_path(path, config, rules, bool(config.ignore_bad_template))
    return [str(match) for match in matches]
