"""Which image a rollback goes back to, from the SSM parameter's history of deploys."""

from __future__ import annotations

import pytest

from deployer.rollback import DEPLOY, ROLLBACK, Entry, lineage, previous


def entries(*spelled: str) -> list[Entry]:
    """'v1' is a deploy of v1, '<v1' a rollback to it."""
    return [Entry(s.lstrip("<"), ROLLBACK if s.startswith("<") else DEPLOY, "") for s in spelled]


@pytest.mark.parametrize(
    ("history", "running", "back_to"),
    [
        ((), "v1", None),  # nothing recorded
        (("v1",), "v1", None),  # the first deploy: nothing before it
        (("v1", "v2"), "v2", "v1"),
        (("v1", "v2", "v2"), "v2", "v1"),  # a deploy without a new image adds nothing
        (("v1", "v2", "v3", "<v2"), "v2", "v1"),  # never forward to the image rolled back from
        (("v1", "v2", "v3", "<v2", "<v1"), "v1", None),
        (("v1", "v2", "<v1", "v3"), "v3", "v1"),  # v2 was undone: it is not gone back to
        (("v1", "v2"), "v9", "v2"),  # deployed by hand: back to the last recorded
    ],
)
def test_previous(history: tuple[str, ...], running: str, back_to: str | None) -> None:
    assert previous(entries(*history), running) == back_to


def test_lineage_drops_what_a_rollback_undid() -> None:
    assert lineage(entries("v1", "v2", "v3", "<v1", "v4")) == ["v1", "v4"]
