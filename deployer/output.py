"""Where a deploy's lines go: one lock around every write, so that stacks applied side by
side never tear each other's lines. A line said from a stack's thread is prefixed with the
stack's key (`[svc-api] ...`): a log read later still tells the stacks apart."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Protocol, TextIO


class Tracked(Protocol):
    """A stack as the board shows it."""

    @property
    def key(self) -> str: ...
    @property
    def state(self) -> str: ...
    @property
    def started(self) -> float: ...
    @property
    def ended(self) -> float: ...


class Held:
    """A thread's lines kept for its block (deployer/parallel.py), until it has the floor."""

    def __init__(self) -> None:
        self.lines: list[str | Callable[[], list[str]]] = []
        self.live = False  # it has the floor: its lines are written as said
        self.granted = threading.Event()
        # Asks for the floor: in_order's queue, whose loop calls Output.grant in turn.
        self.ask: Callable[[], None] = self.granted.set


class Output:
    """Every line of the run, written whole under one lock. While stacks are applied, a
    terminal (`track`'s board) also keeps one line per stack at the bottom, redrawn as they
    progress; the lines said scroll above it."""

    def __init__(self, write: Callable[[str], None]) -> None:
        self._write = write
        self._board: TextIO | None = None
        self._lock = threading.RLock()
        self._local = threading.local()
        self._nodes: list[Tracked] = []
        self._last: dict[str, str] = {}  # each stack's latest line, shown on its board line
        self._drawn = 0
        self.silenced = False  # after Ctrl-C: the threads left following say nothing more

    def say(self, text: str) -> None:
        held: Held | None = getattr(self._local, "held", None)
        if held is not None and not held.live:
            held.lines.append(text)
            return
        key = getattr(self._local, "key", None)
        with self._lock:
            if self.silenced and key is not None:
                return
            self._erase()
            if key is None:
                self._write(text)
            else:
                lines = text.splitlines() or [""]
                self._write("\n".join(f"[{key}] {line}" for line in lines))
                if text.strip():
                    self._last[key] = lines[-1].strip()
            self._draw()

    @contextmanager
    def stack(self, key: str) -> Iterator[None]:
        """Lines said by this thread, until the block ends, are this stack's."""
        self._local.key = key
        try:
            yield
        finally:
            self._local.key = None

    def later(self, render: Callable[[], list[str]]) -> None:
        """Lines rendered when they are written (in the block's order, when it is held): what
        they say depends on what the blocks before them said."""
        held: Held | None = getattr(self._local, "held", None)
        if held is not None and not held.live:
            held.lines.append(render)
            return
        for line in render():
            self.say(line)

    @contextmanager
    def held(self) -> Iterator[Held]:
        """Lines said by this thread, until the block ends, are kept, not written: the
        caller writes them as one block (`block`)."""
        self._local.held = held = Held()
        try:
            yield held
        finally:
            self._local.held = None

    @contextmanager
    def floor(self) -> Iterator[None]:
        """This thread's lines are written as said from here on (a question to the person, a
        wait whose events are worth seeing as they come): a held block waits for its turn
        (every block before it written), then writes what it holds and goes live."""
        held: Held | None = getattr(self._local, "held", None)
        if held is not None and not held.live:
            held.ask()
            held.granted.wait()
        yield

    def block(self, lines: Sequence[str | Callable[[], list[str]]]) -> None:
        """A held block's lines, written together: no other line comes between them."""
        with self._lock:
            for entry in lines:
                for line in entry() if callable(entry) else [entry]:
                    self.say(line)

    def grant(self, held: Held) -> None:
        """The floor to a held block (its turn has come): what it holds is written now."""
        with self._lock:
            self.block(held.lines)
            held.lines.clear()
            held.live = True
        held.granted.set()

    @contextmanager
    def prompt(self) -> Iterator[None]:
        """A question to the person: nothing else is written until it is answered."""
        with self._lock:
            self._erase()
            try:
                yield
            finally:
                self._draw()

    def track(self, nodes: Sequence[Tracked], board: TextIO | None) -> None:
        """One line per stack of `nodes`, redrawn at the bottom of `board` (a terminal)."""
        with self._lock:
            self._nodes = list(nodes)
            self._board = board
            self._draw()

    def redraw(self) -> None:
        with self._lock:
            self._erase()
            self._draw()

    def stop_board(self) -> None:
        with self._lock:
            self._erase()
            self._board = None

    def _erase(self) -> None:
        if self._board is not None and self._drawn:
            self._board.write(f"\x1b[{self._drawn}F\x1b[J")  # up to the board's top, clear
            self._drawn = 0

    def _draw(self) -> None:
        if self._board is None or not self._nodes:
            return
        now = time.monotonic()
        width = max(len(n.key) for n in self._nodes)
        for node in self._nodes:
            elapsed = (node.ended or now) - node.started if node.started else 0.0
            clock = f"{int(elapsed) // 60}:{int(elapsed) % 60:02d}" if node.started else ""
            last = self._last.get(node.key, "")
            line = f"  {node.key:<{width}}  {node.state:<10} {clock:>6}  {last}"
            self._board.write(line[:119] + "\n")
        self._board.flush()
        self._drawn = len(self._nodes)


class Ticker:
    """Redraws the board every second on a terminal (the elapsed times move)."""

    def __init__(self, output: Output) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(output,), daemon=True)
        self._thread.start()

    def _run(self, output: Output) -> None:
        while not self._stop.wait(1.0):
            output.redraw()

    def stop(self) -> None:
        self._stop.set()
