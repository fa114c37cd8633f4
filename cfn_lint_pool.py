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

import atexit
import functools
import gc
import multiprocessing
import os
import traceback
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

import cfn_lint_patches

if TYPE_CHECKING:
    from multiprocessing.connection import Connection

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
    from cfnlint.api import ManualArgs
    from cfnlint.config import ConfigMixIn

    config = ConfigMixIn(**ManualArgs(templates=[str(p) for p in paths], regions=[region]))
    config.validate()
    _LINTER = (config, _rules())
    # cfn-lint's own order (its configuration globs and sorts the paths), so the messages read
    # as `cfn-lint` prints them.
    files: list[str] = config.templates
    count = min(len(files), workers or cores())
    if count <= 1:
        found = [_lint_one(file) for file in files]
    else:
        # The largest first: they bound the run's length when handed out last.
        order = sorted(range(len(files)), key=lambda i: -os.path.getsize(files[i]))
        # What the workers inherit (modules, rules, schemas) lives as long as they do: out of
        # the collector's way (its full collections no longer walk it, about a tenth of the
        # linting), and its pages stay shared with this process (gc.freeze's documented use).
        gc.freeze()
        context = multiprocessing.get_context("fork")
        try:
            with ProcessPoolExecutor(max_workers=count, mp_context=context) as pool:
                work = pool.map(_lint_one, [files[i] for i in order])
                results = dict(zip(order, work, strict=True))
        finally:
            gc.unfreeze()  # this process collects as before
        found = [results[i] for i in range(len(files))]
    return [
        (Path(f).name, message)
        for f, messages in zip(files, found, strict=True)
        for message in messages
    ]


@functools.cache
def _rules() -> Rules:
    """cfn-lint's rules, loaded (~1 s with its imports) and patched once per process. They
    depend on no template or region: what `Runner` loads for a configuration without rule
    options, as ours is."""
    from cfnlint.api import ManualArgs
    from cfnlint.config import ConfigMixIn
    from cfnlint.runner import Runner

    rules = Runner(ConfigMixIn(**ManualArgs())).rules
    cfn_lint_patches.apply(rules)
    return rules


class Prepared:
    """cfn-lint made ready in a child process forked now, while this one goes on: the child
    imports cfn-lint and loads its rules (~1 s) as this process imports the template builders
    and generates, then lints what `lint` hands it (with `lint()`, on every core). Not used,
    the child is ended by `close` (or at exit), without waiting for it."""

    def __init__(self) -> None:
        context = multiprocessing.get_context("fork")
        self._conn, child_end = context.Pipe()
        self._process = context.Process(target=_serve, args=(child_end,), name="cfn-lint")
        self._process.start()
        child_end.close()
        self._asked = False
        atexit.register(self.close)  # before multiprocessing's own exit hook joins children

    def lint(self, paths: Sequence[Path], region: str) -> list[tuple[str, str]]:
        """What `lint(paths, region)` returns, computed in the prepared child."""
        self._asked = True
        self._conn.send(([str(p) for p in paths], region))
        try:
            ok, value = self._conn.recv()
        except EOFError:
            ok, value = False, f"exit status {self._process.exitcode}"
        self.close()
        if not ok:
            raise RuntimeError(f"cfn-lint's process failed: {value}")
        return value

    def close(self) -> None:
        if not self._asked and self._process.is_alive():
            self._process.terminate()
        self._conn.close()
        self._process.join()


def _serve(conn: Connection) -> None:
    """The prepared child: rules first, then one request, answered (True, problems) or
    (False, the traceback). Ended by a signal (Ctrl-C, `close`) it leaves quietly."""
    try:
        _rules()
        paths, region = conn.recv()
    except (EOFError, KeyboardInterrupt):
        return
    try:
        answer: tuple[bool, object] = (True, lint([Path(p) for p in paths], region))
    except BaseException:  # reported to the parent, which raises it
        answer = (False, traceback.format_exc())
    conn.send(answer)


def _lint_one(path: str) -> list[str]:
    """The messages cfn-lint gives for one file, with the inherited configuration and rules."""
    from cfnlint.runner import run_template_by_file_path

    assert _LINTER is not None, "lint() sets the linter before it forks"
    config, rules = _LINTER
    matches = run_template_by_file_path(path, config, rules, bool(config.ignore_bad_template))
    return [str(match) for match in matches]
