"""Work side by side, its output in order: each item runs in its own thread (at most
`concurrency` at once, each once the items it waits for have finished), the lines it says are
held, and each item's lines are written as one block, in the items' order, as soon as it and
every item before it are done. What a person reads is what the same work one item after the
other would have written; only the waiting is shorter.

Used where the deploy does the same slow, independent calls for many stacks or services: the
plans before the confirmation (deployer/together.py), the checks after a deploy
(deployer/postdeploy.py). The graph (deployer/graph.py) writes its lines as they come instead:
a stack's operation takes minutes, and its events are worth seeing as they arrive.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from deployer.output import Held, Output

T = TypeVar("T")


@dataclass
class Outcome(Generic[T]):
    """What one item's work returned, or raised."""

    value: T | None = None
    error: BaseException | None = None

    def get(self) -> T:
        if self.error is not None:
            raise self.error
        return self.value  # type: ignore[return-value]


class Unfinished(KeyboardInterrupt):
    """Ctrl-C while items ran: the blocks of those that finished are written; `indices` are
    the items that did not (still running, or not started)."""

    def __init__(self, indices: list[int], outcomes: dict[int, Outcome[Any]]) -> None:
        super().__init__()
        self.indices = indices
        self.outcomes = outcomes


def each(calls: Sequence[Callable[[], None]], name: str) -> None:
    """Independent calls made side by side, each in its own thread; the first that raised, in
    the order given, is raised once all are done. For a few slow reads or writes of different
    services that say nothing (or whole lines of their own)."""
    with ThreadPoolExecutor(max(len(calls), 1), name) as pool:
        for made in [pool.submit(call) for call in calls]:
            made.result()


def next_done(done: queue.Queue[Any]) -> Any:
    """The next item to finish; waits in short steps, so that Ctrl-C is seen at once (a
    blocking get would hold the signal until something finished)."""
    while True:
        try:
            return done.get(timeout=0.2)
        except queue.Empty:
            continue


def in_order(
    count: int,
    work: Callable[[int], T],
    output: Output,
    concurrency: int,
    after: Callable[[int], Sequence[int]] = lambda _i: (),
    stop: Callable[[Outcome[T]], bool] = lambda _o: False,
    name: str = "item",
) -> list[Outcome[T] | None]:
    """Run work(0) ... work(count - 1), each once the items after(i) (all before i) have
    finished, at most `concurrency` at a time. Each item's outcome, in order; whatever one
    raises is its own outcome, never the others'. Once an item's block is written whose
    outcome `stop`s the run, no item starts, those running are waited for (not one waiting
    for the floor: Output.floor), their blocks are not written, and their outcomes are
    returned (None: not started, or still waiting). Raises Unfinished on Ctrl-C."""
    outcomes: dict[int, Outcome[T]] = {}
    blocks: dict[int, list[Any]] = {}
    holders: dict[int, Held] = {}
    turns: set[int] = set()  # items that asked for the floor
    done: queue.Queue[tuple[int, Outcome[T] | None, list[Any]]] = queue.Queue()
    started: set[int] = set()
    written, stopped = 0, False

    def run(index: int) -> None:
        with output.held() as held:
            holders[index] = held
            held.ask = lambda: done.put((index, None, []))
            try:
                outcome: Outcome[T] = Outcome(value=work(index))
            except Exception as error:  # the item's outcome: the caller decides what it means
                outcome = Outcome(error=error)
        done.put((index, outcome, held.lines))

    try:
        # Once stopped, those running are waited for, but not one waiting for the floor: its
        # turn will not come (it makes nothing more while it waits; the process's exit ends it).
        while (written < count and not stopped) or any(
            i not in outcomes and i not in turns for i in started
        ):
            for index in range(count):
                if (
                    not stopped
                    and index not in started
                    and len(started) - len(outcomes) < concurrency
                    and all(i in outcomes for i in after(index))
                ):
                    started.add(index)
                    threading.Thread(
                        target=run,
                        args=(index,),
                        name=f"{name}-{index}",
                        daemon=True,  # Ctrl-C does not wait for them; the process's exit ends them
                    ).start()
            index, outcome, lines = next_done(done)
            if outcome is None:
                turns.add(index)
            else:
                outcomes[index], blocks[index] = outcome, lines
            while not stopped and written < count:
                if written in blocks:  # it and every item before it are done
                    output.block(blocks.pop(written))
                    stopped = stop(outcomes[written])
                    written += 1
                elif written in turns:  # its turn: what it holds is written, the rest as said
                    turns.discard(written)
                    output.grant(holders[written])
                else:
                    break
    except KeyboardInterrupt:
        for index in sorted(blocks):  # finished, but behind one that did not
            output.block(blocks[index])
        raise Unfinished([i for i in range(count) if i not in outcomes], dict(outcomes)) from None
    return [outcomes.get(index) for index in range(count)]
