"""Polling delays and deadlines: start well under a second, back off to a few seconds, with
jitter; every wait ends by a deadline.

Stacker starts at 0.5 s and caps at a few seconds; boto3's waiters sleep 30 s between polls,
which is why we do not use them. Following a stack polls more slowly than waiting for a change
set: a stack operation takes minutes, and a team's parallel deploys share CloudFormation's
per-account request rate (see FOLLOW).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace


@dataclass(frozen=True)
class Backoff:
    first: float = 0.2
    factor: float = 1.5
    cap: float = 3.0
    jitter: float = 0.2  # each delay is scaled by a random factor in [1 - jitter, 1 + jitter]
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic  # what deadlines are measured on

    def delays(self) -> Iterator[float]:
        delay = self.first
        while True:
            yield delay * (1 + self.jitter * (2 * random.random() - 1))
            delay = min(self.cap, delay * self.factor)

    def throttled(self, attempt: int) -> float:
        """Full-jitter delay after the n-th consecutive throttling error (n from 1)."""
        return random.uniform(0, min(30.0, self.cap * 2**attempt)) if self.first else 0.0

    def following(self) -> Backoff:
        """The cadence for following a stack operation: a poll every 3 s once it runs (one
        DescribeStackEvents each, so about 20 calls a minute), the same sleep and clock."""
        if not self.first:  # a backoff that never waits (the tests') stays immediate
            return self
        return replace(self, first=max(self.first, FOLLOW_FIRST), cap=max(self.cap, FOLLOW_CAP))

    def deadline(self, seconds: float) -> Deadline:
        return Deadline(self.clock() + seconds, seconds, self.clock)


FOLLOW_FIRST, FOLLOW_CAP = 1.0, 3.0


@dataclass(frozen=True)
class Deadline:
    at: float
    seconds: float  # as configured, for messages
    clock: Callable[[], float] = time.monotonic

    def passed(self) -> bool:
        return self.clock() >= self.at

    def describe(self) -> str:
        minutes = self.seconds / 60
        return f"{minutes:g} min" if minutes >= 1 else f"{self.seconds:g} s"
