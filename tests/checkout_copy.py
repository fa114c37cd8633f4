"""A copy of the checkout, for tests that change files or run make: the work tree as it is
(with or without .git: a downloaded archive has none), never its build output or state, and
links to its virtualenvs so that make sees them as up to date."""

from __future__ import annotations

import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# What .gitignore leaves out, and git's own directory: the copy is the source alone.
LEFT_OUT = {".git", ".venv", "build", ".local", ".locks", "__pycache__", ".pytest_cache"}
LEFT_OUT |= {".ruff_cache", ".mypy_cache"}
VENVS = (".venv", ".venv-checkov")


def copy_checkout(into: Path) -> Path:
    """The checkout's source files, with their mtimes, into `into`; returns `into`."""

    def ignored(_directory: str, names: list[str]) -> set[str]:
        return {n for n in names if n in LEFT_OUT or n.startswith(".venv") or n.endswith(".pyc")}

    shutil.copytree(ROOT, into, ignore=ignored, dirs_exist_ok=True, symlinks=True)
    for venv in VENVS:
        if (ROOT / venv).exists():
            (into / venv).symlink_to(ROOT / venv)
    return into
