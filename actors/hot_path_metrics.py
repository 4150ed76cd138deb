"""The actor's hot-path measurements for Prometheus (observability/metrics.py): commit latency,
tick -> order latency and mailbox depth. Kept out of the decision loop: the actor wraps the
loop's repository (commit timing) and executor (the first order a price causes), and reads its
own mailbox's depth when it takes a message. `MetricsRelay` exists before the registry does
(the runtime builds accounts first, the operator services after), so actors keep one reference
and the registry is plugged in later."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from actors.messages import Tick, TickReady
from observability.metrics import BotMetrics
from trading.commands import PlaceOrder


def _ignore(value: float) -> None:
    pass


class MetricsRelay:
    """The metrics hooks of one account; no-ops until `attach` binds them to a registry."""

    def __init__(self, account: str = "main") -> None:
        self.account = account
        self.observe_commit: Callable[[float], None] = _ignore
        self.observe_tick_to_order: Callable[[float], None] = _ignore
        self.observe_mailbox: Callable[[float], None] = _ignore

    def attach(self, metrics: BotMetrics) -> None:
        """Bind this account's histogram children once: `labels()` looks its child up under a
        lock, which the hot path (every message an actor takes) need not pay each time."""
        self.observe_commit = metrics.commit_latency.labels(self.account).observe
        self.observe_tick_to_order = metrics.tick_to_order.labels(self.account).observe
        self.observe_mailbox = metrics.mailbox_depth.labels(self.account).observe


class TimedCommits:
    """A repository whose `commit` is timed; everything else is the repository's own."""

    def __init__(self, inner: Any, metrics: MetricsRelay) -> None:
        self._inner = inner
        self._metrics = metrics

    def commit(self, *args: Any, **kwargs: Any) -> Any:
        t0 = time.perf_counter()
        try:
            return self._inner.commit(*args, **kwargs)
        finally:
            self._metrics.observe_commit(time.perf_counter() - t0)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class TickToOrder:
    """Measures from a price message reaching the actor to the first order it causes."""

    def __init__(self, metrics: MetricsRelay) -> None:
        self.metrics = metrics
        self.started: float | None = None

    def message(self, message: Any) -> None:
        """Called as the actor takes a message: a price starts the clock, anything else stops it."""
        self.started = time.perf_counter() if isinstance(message, (Tick, TickReady)) else None

    def wrap(self, execute: Callable[[Any], list[Any]]) -> Callable[[Any], list[Any]]:
        def timed(command: Any) -> list[Any]:
            if self.started is not None and isinstance(command, PlaceOrder):
                self.metrics.observe_tick_to_order(time.perf_counter() - self.started)
                self.started = None
            return execute(command)
        return timed
