"""deployer/parallel.in_order on its own (no AWS): blocks whole and in order whatever finishes
first; an item that needs the floor (a question, a wait shown live) waits for its turn; a
stop leaves no one waiting forever for a turn that will not come."""

from __future__ import annotations

import threading

from deployer import parallel
from deployer.output import Output


def test_a_later_item_finishing_first_is_written_after_the_earlier_whole() -> None:
    lines: list[str] = []
    first_may_end = threading.Event()

    def work(index: int) -> int:
        output.say(f"{index}: start")
        if index == 0:
            assert first_may_end.wait(5)
        else:
            first_may_end.set()  # item 1 is done before item 0 goes on
        output.say(f"{index}: end")
        return index

    output = Output(lines.append)
    outcomes = parallel.in_order(2, work, output, concurrency=2)
    assert [o.get() for o in outcomes if o is not None] == [0, 1]
    assert lines == ["0: start", "0: end", "1: start", "1: end"]


def test_an_item_that_takes_the_floor_waits_for_every_block_before_it() -> None:
    """Item 1 asks for the floor while item 0 still runs: what it held is written once item
    0's block is, and what it says on the floor as it says it, before item 2's block."""
    lines: list[str] = []
    zero_may_end = threading.Event()
    on_floor: list[list[str]] = []

    def work(index: int) -> None:
        output.say(f"{index}: held")
        if index == 0:
            assert zero_may_end.wait(5)
        elif index == 1:
            zero_may_end.set()
            with output.floor():
                on_floor.append(list(lines))  # what was written when it got the floor
                output.say("1: live")
        output.say(f"{index}: end")

    output = Output(lines.append)
    parallel.in_order(3, work, output, concurrency=3)
    assert on_floor == [["0: held", "0: end", "1: held"]]
    assert lines == ["0: held", "0: end", "1: held", "1: live", "1: end", "2: held", "2: end"]


def test_a_stop_does_not_wait_for_an_item_waiting_for_the_floor() -> None:
    """Item 0 fails while item 2 waits for its turn: the run returns (item 2 never gets the
    floor, and says nothing), item 1's block, after the stop, is not written."""
    lines: list[str] = []
    asked = threading.Event()
    one_done = threading.Event()

    def work(index: int) -> None:
        output.say(f"{index}: held")
        if index == 0:
            assert asked.wait(5) and one_done.wait(5)
            raise RuntimeError("refused")
        if index == 2:
            asked.set()
            with output.floor():
                output.say("2: live")
        if index == 1:
            one_done.set()

    output = Output(lines.append)
    outcomes = parallel.in_order(
        3, work, output, concurrency=3, stop=lambda outcome: outcome.error is not None
    )
    assert outcomes[0] is not None and isinstance(outcomes[0].error, RuntimeError)
    assert outcomes[2] is None
    assert lines == ["0: held"]
