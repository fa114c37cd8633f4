"""Polling delays: start well under a second, back off to a few seconds, with jitter.

Stacker starts at 0.5 s and caps at a few seconds; boto3's waiters sleep 30 s between polls,
which is why we do not use them.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass


@dataclass(frozen=True)
class Backoff:
    first: float = 0.2
    factor: float = 1.5
    cap: float = 3.0
    jitter: float = 0.2  # each delay is scaled by a random factor in [1 - jitter, 1 + jitter]
    sleep: Callable[[float], None] = time.sleep

    def delays(self) -> Iterator[float]:
        delay = self.first
        while True:
            yield delay * (1 + self.jitter * (2 * random.random() - 1))
            delay = min(self.cap, delay * self.factor)

    def throttled(self, attempt: int) -> float:
        """Full-jitter delay after the n-th consecutive throttling error (n from 1)."""
        return random.uniform(0, min(30.0, self.cap * 2**attempt)) if self.first else 0.0


NO_WAIT = Backoff(first=0.0, cap=0.0, jitter=0.0, sleep=lambda _s: None)
