"""Prometheus metrics for the bot (``prometheus_client``; served at ``/metrics`` by dashboard/).

Most metrics are read at scrape time from the status snapshot (the same dict ``status --json``
prints, so a dashboard in another process shows the same numbers: observability/status_metrics.py,
where a malformed value is left out with one warning) and from whatever else the wiring passes
in (exchange request counters, notification counters). Three histograms need the hot path to
call an observe function: ``observe_commit`` (storage commit latency), ``observe_tick_to_order``
(price tick to order sent) and ``observe_mailbox`` (mailbox depth seen by an actor when it takes
a message). Each observe is a few hundred nanoseconds, lock-free apart
from prometheus_client's own per-metric lock.

Names follow the Prometheus conventions: a ``bot_`` prefix, base units (seconds, ratios),
``_total`` on counters, labels ``account``, ``symbol``, ``state``, ``protection``, ``channel``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

from loguru import logger
from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector

from observability.status_metrics import Reading, gauge, status_families

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
LATENCY_BUCKETS = (
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
)
DEPTH_BUCKETS = (0, 1, 2, 5, 10, 50, 100, 500, 1000, 5000, 10000)

Snapshot = Callable[[], dict[str, Any] | None]
Provider = Callable[[], dict[str, dict[str, Any]]]


class BotMetrics:
    """One registry per bot (never the global default: tests run several bots in a process)."""

    def __init__(
        self,
        *,
        snapshot: Snapshot,
        exchange_stats: Provider | None = None,
        notification_stats: Provider | None = None,
        log: Any = logger,
        running: Callable[[], bool] | None = None,
        accounts: tuple[str, ...] = (),
    ) -> None:
        """``running`` (the instance lock) and ``accounts`` (the configured ones): what
        ``bot_up`` and ``bot_account_current`` say while there is no status to read."""
        self.registry = CollectorRegistry(auto_describe=True)
        self.commit_latency = Histogram(
            "bot_commit_latency_seconds",
            "Time to commit one decision (state, journal, ledger, "
            "order intents) in one transaction",
            ["account"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.tick_to_order = Histogram(
            "bot_tick_to_order_latency_seconds",
            "From a price tick reaching the actor to the order it caused being sent",
            ["account"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.mailbox_depth = Histogram(
            "bot_mailbox_depth_messages",
            "Messages waiting in an actor's mailbox when it takes one",
            ["account"],
            buckets=DEPTH_BUCKETS,
            registry=self.registry,
        )
        self.registry.register(
            _SnapshotCollector(snapshot, exchange_stats, notification_stats, log,
                               running=running, accounts=accounts))

    # -- hooks for the hot path (see the module docstring for the call sites) --------------------
    def observe_commit(self, seconds: float, account: str = "main") -> None:
        self.commit_latency.labels(account).observe(seconds)

    def observe_tick_to_order(self, seconds: float, account: str = "main") -> None:
        self.tick_to_order.labels(account).observe(seconds)

    def observe_mailbox(self, depth: int, account: str = "main") -> None:
        self.mailbox_depth.labels(account).observe(depth)

    def render(self) -> bytes:
        return generate_latest(self.registry)


class NullMetrics:
    """The observe functions doing nothing: the default where no registry is wired (tests,
    benchmarks), so call sites never test for None."""

    def observe_commit(self, seconds: float, account: str = "main") -> None:
        return None

    def observe_tick_to_order(self, seconds: float, account: str = "main") -> None:
        return None

    def observe_mailbox(self, depth: int, account: str = "main") -> None:
        return None


NULL_METRICS = NullMetrics()


class _SnapshotCollector(Collector):
    def __init__(
        self,
        snapshot: Snapshot,
        exchange_stats: Provider | None,
        notification_stats: Provider | None,
        log: Any = logger,
        *,
        running: Callable[[], bool] | None = None,
        accounts: tuple[str, ...] = (),
    ) -> None:
        self.snapshot, self.running, self.accounts = snapshot, running, accounts
        self.exchange_stats = exchange_stats
        self.notification_stats = notification_stats
        self.log = log
        self._told: set[str] = set()
        self._told_lock = threading.Lock()

    def describe(self) -> list[Any]:
        return []  # dynamic families: nothing to check at registration

    def collect(self) -> Iterator[Any]:
        reading = Reading()
        status = self.snapshot()
        if status is None and self.running is not None:
            # none to read (not written yet, or unreadable): the lock says whether the bot is
            # up, and no account's figures are current (it read 0 and no account at all)
            status = {"bot": {"running": self.running(), "accounts": list(self.accounts)}}
        yield from status_families(status, reading)
        if self.exchange_stats is not None:
            stats = self.exchange_stats()
            yield from _exchange_families(stats)
            yield from _port_families(stats)
        if self.notification_stats is not None:
            yield from _notification_families(self.notification_stats())
        self._tell(reading.lines())

    def _tell(self, problems: list[str]) -> None:
        """One WARNING per problem, not one per scrape; told again once it went away."""
        with self._told_lock:
            new = [p for p in problems if p not in self._told]
            self._told = set(problems)
        for problem in new:
            self.log.warning("{}", problem)


EXCHANGE_COUNTERS = (
    (
        "requests",
        "bot_exchange_requests",
        "REST requests sent to the exchange (rate budget tokens taken; ccxt gateway only)",
    ),
    ("feed_polls", "bot_market_feed_polls", "Market feed polls (prices and fills)"),
    (
        "feed_undelivered",
        "bot_market_feed_undelivered_ticks",
        "Prices not delivered because the symbol's actor was not running",
    ),
)


def _exchange_families(stats: dict[str, dict[str, Any]]) -> Iterator[Any]:
    for key, name, doc in EXCHANGE_COUNTERS:
        family = CounterMetricFamily(name, doc, labels=["account"])
        for account, values in stats.items():
            if key in values:
                family.add_metric([account], float(values[key]))
        yield family


def _port_families(stats: dict[str, dict[str, Any]]) -> Iterator[Any]:
    calls = CounterMetricFamily(
        "bot_exchange_calls", "Calls through the exchange port, by method",
        labels=["account", "method"])
    errors = CounterMetricFamily(
        "bot_exchange_errors", "Errors the exchange port raised, by kind (exchange/errors.py)",
        labels=["account", "kind"])
    for account, values in stats.items():
        for method, n in sorted((values.get("calls") or {}).items()):
            calls.add_metric([account, method], float(n))
        for kind, n in sorted((values.get("errors") or {}).items()):
            errors.add_metric([account, kind], float(n))
    yield from (calls, errors)


def _notification_families(stats: dict[str, dict[str, Any]]) -> Iterator[Any]:
    sent = CounterMetricFamily(
        "bot_notifications_sent", "Notifications delivered", labels=["channel"]
    )
    failed = CounterMetricFamily(
        "bot_notification_failures",
        "Failed send attempts (each is retried or logged)",
        labels=["channel"],
    )
    pending = gauge("bot_notifications_pending", "Notifications waiting to be sent", ["channel"])
    for channel, s in stats.items():
        sent.add_metric([channel], float(s.get("sent", 0)))
        failed.add_metric([channel], float(s.get("failed_attempts", 0)))
        pending.add_metric([channel], float(s.get("pending", 0)))
    yield from (sent, failed, pending)
