"""Typed access to one table of a TOML file, with errors that name the file, the field and the fix.

A `Table` remembers which keys were read, so that `finish()` can reject the ones nobody asked for:
an unknown key is almost always a typo, and silently ignoring it deploys the wrong thing.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")


class ConfigError(Exception):
    """A bad environment file. str() is one line: file, field, what is expected."""

    def __init__(self, path: Path, field: str, message: str) -> None:
        self.path = path
        self.field = field
        self.message = message
        super().__init__(f"{_display(path)}: {field}: {message}")


def _display(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _describe(value: object) -> str:
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        return "a list"
    return repr(value)


class Table:
    def __init__(self, path: Path, data: dict[str, Any], prefix: str = "") -> None:
        self.path = path
        self.data = data
        self.prefix = prefix
        self._read: set[str] = set()

    def field(self, key: str) -> str:
        return f"{self.prefix}{key}"

    def error(self, key: str, message: str) -> ConfigError:
        return ConfigError(self.path, self.field(key), message)

    def has(self, key: str) -> bool:
        return key in self.data

    def _get(self, key: str, expected: str, default: Any, required: bool) -> Any:
        self._read.add(key)
        if key not in self.data:
            if required:
                raise self.error(key, f"missing; expected {expected}")
            return default
        return self.data[key]

    def string(
        self,
        key: str,
        expected: str = "a string",
        *,
        default: str | None = None,
        required: bool = True,
        check: Callable[[str], object] = lambda _: True,
    ) -> Any:
        value = self._get(key, expected, default, required and default is None)
        if value is None:
            return None
        if not isinstance(value, str) or not check(value):
            raise self.error(key, f"expected {expected}, got {_describe(value)}")
        return value

    def integer(
        self, key: str, low: int, high: int, *, default: int | None = None, unit: str = ""
    ) -> int:
        expected = f"an integer from {low} to {high}{unit}"
        value = self._get(key, expected, default, default is None)
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise self.error(key, f"expected {expected}, got {_describe(value)}")
        return value

    def number(self, key: str, low: float, high: float, *, default: float | None = None) -> float:
        expected = f"a number from {low:g} to {high:g}"
        value = self._get(key, expected, default, default is None)
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not low <= value <= high
        ):
            raise self.error(key, f"expected {expected}, got {_describe(value)}")
        return float(value)

    def boolean(self, key: str, *, default: bool | None = None) -> bool:
        value = self._get(key, "true or false", default, default is None)
        if not isinstance(value, bool):
            raise self.error(key, f"expected true or false, got {_describe(value)}")
        return value

    def table(self, key: str, *, required: bool = True) -> Table:
        value = self._get(key, f"a [{self.field(key)}] table", {}, required)
        if not isinstance(value, dict):
            raise self.error(key, f"expected a [{self.field(key)}] table, got {_describe(value)}")
        return Table(self.path, value, f"{self.field(key)}.")

    def tables(self, key: str) -> list[Table]:
        """A list of inline tables, e.g. `subnets = [{ id = "...", ... }, ...]`."""
        value = self._get(key, "a list of tables", [], False)
        if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
            raise self.error(key, f"expected a list of tables, got {_describe(value)}")
        return [Table(self.path, item, f"{self.field(key)}[{i}].") for i, item in enumerate(value)]

    def mapping(self, key: str) -> dict[str, str]:
        """A table of string values, such as tags."""
        value = self._get(key, "a table of strings", {}, False)
        if not isinstance(value, dict):
            raise self.error(key, f"expected a table of strings, got {_describe(value)}")
        for name, item in value.items():
            if not isinstance(item, str):
                raise ConfigError(
                    self.path,
                    f"{self.field(key)}.{name}",
                    f"expected a string, got {_describe(item)}",
                )
        return dict(value)

    def finish(self) -> None:
        """Reject keys nobody read: a typo must not silently fall back to a default."""
        for key in self.data:
            if key not in self._read:
                known = sorted(self._read)
                close = difflib.get_close_matches(key, known, n=1)
                hint = f'did you mean "{close[0]}"?' if close else f"known keys: {', '.join(known)}"
                raise self.error(key, f"unknown key; {hint}")


def one_of(table: Table, keys: tuple[str, ...], what: str) -> str:
    """Exactly one of the alternative keys must be set; returns the one that is."""
    present = [key for key in keys if table.has(key)]
    if len(present) != 1:
        fields = [table.field(key) for key in keys]
        choices = " or ".join(fields) if len(keys) == 2 else _one_of(fields)
        if not present:
            found = "neither is set" if len(keys) == 2 else "none is set"
        elif len(keys) == 2:
            found = "both are set"
        else:
            found = " and ".join(table.field(key) for key in present) + " are set"
        raise ConfigError(
            table.path, table.prefix.rstrip(".") or fields[0], f"{what}: set {choices} ({found})"
        )
    return present[0]


def _one_of(fields: list[str]) -> str:
    return f"one of {', '.join(fields[:-1])} or {fields[-1]}"
