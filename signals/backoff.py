"""Reconnect delays: exponential from `initial_s`, capped at `max_s`, with jitter that only
shortens a delay (so `max_s` is a hard bound)."""

from __future__ import annotations

import random
from collections.abc import Callable


class Backoff:
    def __init__(self, initial_s: float = 0.5, max_s: float = 30.0, factor: float = 2.0,
                 jitter: float = 0.2, rand: Callable[[], float] = random.random) -> None:
        if initial_s <= 0 or max_s < initial_s or factor < 1 or not 0 <= jitter < 1:
            raise ValueError("need 0 < initial_s <= max_s, factor >= 1 and 0 <= jitter < 1")
        self.initial_s = initial_s
        self.max_s = max_s
        self.factor = factor
        self.jitter = jitter
        self._rand = rand
        self.attempt = 0

    def next_delay(self) -> float:
        """The delay before the next attempt; each call backs off further."""
        base = min(self.initial_s * self.factor ** min(self.attempt, 64), self.max_s)
        self.attempt += 1
        return base * (1.0 - self.jitter * self._rand())

    def reset(self) -> None:
        self.attempt = 0
