"""Reads the Dockerfile's instructions, so that the bench, `make run`'s check and the tests start
the service exactly as the container's CMD does instead of keeping copies of its flags.
"""

from __future__ import annotations

import json
from pathlib import Path

DOCKERFILE = Path(__file__).resolve().parent.parent / "Dockerfile"


def instructions(path: Path = DOCKERFILE) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs in order, continuation lines joined, comments dropped."""
    result: list[tuple[str, str]] = []
    pending = ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line = pending + line
        pending = ""
        name, _, arguments = line.partition(" ")
        result.append((name.upper(), arguments.strip()))
    return result


def last(name: str, path: Path = DOCKERFILE) -> str:
    """The arguments of the last NAME instruction (the one that takes effect for CMD)."""
    found = [arguments for instruction, arguments in instructions(path) if instruction == name]
    if not found:
        raise LookupError(f"{path}: no {name} instruction")
    return found[-1]


def exec_form(arguments: str) -> list[str]:
    """A JSON-array (exec form) argument list; anything else is an error."""
    value = json.loads(arguments)
    if not (isinstance(value, list) and all(isinstance(item, str) for item in value)):
        raise ValueError(f"not an exec-form array: {arguments}")
    return value


def cmd(path: Path = DOCKERFILE) -> list[str]:
    return exec_form(last("CMD", path))


def with_option(argv: list[str], option: str, value: str) -> list[str]:
    """argv with `option`'s value replaced (e.g. --port), everything else untouched."""
    index = argv.index(option)
    return [*argv[: index + 1], value, *argv[index + 2 :]]
