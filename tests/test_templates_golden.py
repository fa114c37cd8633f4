"""The production environment's generated files, compared byte for byte with tests/golden/.

Every change to the templates shows up here, and in review as a diff of tests/golden/.
Refresh after an intended change with `make golden` (UPDATE_GOLDEN=1 pytest this file), then
read the diff before committing it.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import generate
from environments import load

GOLDEN = Path(__file__).parent / "golden"
# A fixed tag: the templates never contain it (it is a parameter); the manifest does.
IMAGE_TAG = "0123456789ab"


def _generated() -> dict[str, str]:
    return generate.generate(load("production"), IMAGE_TAG)


def test_golden_covers_every_file_of_production() -> None:
    if os.environ.get("UPDATE_GOLDEN"):
        GOLDEN.mkdir(exist_ok=True)
        for stale in GOLDEN.glob("*.json"):
            stale.unlink()
        for name, content in _generated().items():
            (GOLDEN / name).write_text(content)
    assert sorted(p.name for p in GOLDEN.glob("*.json")) == sorted(_generated())


@pytest.mark.parametrize("name", sorted(_generated()))
def test_generated_file_matches_golden(name: str) -> None:
    expected = (GOLDEN / name).read_text()
    assert _generated()[name] == expected, (
        f"build of production differs from tests/golden/{name}: if intended, run `make golden` "
        "and review the diff"
    )
