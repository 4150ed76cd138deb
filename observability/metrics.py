"""Prometheus metrics for the bot (``prometheus_client``; served at ``/metrics`` by dashboard/).

Most metrics are read at scrape time from the status snapshot (the same dict ``status --json``
prints, so a dashboard in another process shows the same numbers) and from whatever else the
wiring passes in (exchange request counters, notification counters). Three histograms need the
hot path to call an observe function: ``observe_commit`` (storage commit latency),
``observe_tick_to_order`` (price tick to order sent) and ``observe_mailbox`` (mailbox depth seen
by an actor when it takes a message). Each observe is a few hundred nanoseconds, lock-free apart
from prometheus_client's own per-metric lock.

Names follow the Prometheus conventions: a ``bot_`` prefix, base units (seconds, ratios),
``_total`` on counters, labels ``account``, ``symbol``, ``state``, ``protection``, ``channel``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, InfoMetricFamily
from prometheus_client.registry import Collector

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
    ) -> None:
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
        self.registry.register(_SnapshotCollector(snapshot, exchange_stats, notification_stats))

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


def _g(name: str, doc: str, labels: list[str]) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, doc, labels=labels)


class _SnapshotCollector(Collector):
    def __init__(
        self,
        snapshot: Snapshot,
        exchange_stats: Provider | None,
        notification_stats: Provider | None,
    ) -> None:
        self.snapshot = snapshot
        self.exchange_stats = exchange_stats
        self.notification_stats = notification_stats

    def describe(self) -> list[Any]:
        return []  # dynamic families: nothing to check at registration

    def collect(self) -> Iterator[Any]:
        status = self.snapshot() or {}
        yield from _bot_families(status)
        yield from _account_families(status)
        yield from _actor_families(status)
        if self.exchange_stats is not None:
            stats = self.exchange_stats()
            yield from _exchange_families(stats)
            yield from _port_families(stats)
        if self.notification_stats is not None:
            yield from _notification_families(self.notification_stats())


def _bot_families(status: dict[str, Any]) -> Iterator[Any]:
    bot = status.get("bot") or {}
    up = _g("bot_up", "1 while the bot holds its instance lock", [])
    up.add_metric([], 1.0 if bot.get("running") else 0.0)
    yield up
    for key, name, doc in (
        ("heartbeat_at", "bot_heartbeat_timestamp_seconds", "Last status write"),
        ("started_at", "bot_start_time_seconds", "When the bot started"),
    ):
        if bot.get(key) is not None:
            g = _g(name, doc, [])
            g.add_metric([], float(bot[key]))
            yield g
    info = InfoMetricFamily("bot_build", "Running version and mode")
    info.add_metric(
        [], {"version": str(bot.get("version") or ""), "mode": str(bot.get("mode") or "")}
    )
    yield info


ACCOUNT_GAUGES = (
    (
        "bot_open_positions",
        "Open positions (a hedge-grid leg counts as one)",
        lambda a: a["health"]["open_positions"],
    ),
    (
        "bot_protected_positions",
        "Open positions with their exchange stop in place",
        lambda a: a["health"]["protected_positions"],
    ),
    (
        "bot_stop_coverage_ratio",
        "Protected / (open positions + unreadable symbols): 1 when none is open and every "
        "symbol's state was read; an unreadable symbol's position is unknown, so below 1",
        lambda a: stop_coverage(a["health"]),
    ),
    (
        "bot_unreadable_symbols",
        "Symbols quarantined with unreadable state (their positions are in no other count)",
        lambda a: a["health"].get("unreadable_symbols", 0),
    ),
    ("bot_kill_switch", "1 while the account's kill switch is on", lambda a: a["kill_switch"]),
    ("bot_open_escalations", "Escalations not yet resolved", lambda a: len(a["escalations"])),
    (
        "bot_entries_paused",
        "1 while a person paused new entries",
        lambda a: a.get("entries_paused") is not None,
    ),
)
PNL_GAUGES = (
    ("bot_realized_pnl_usdt", "Realized P&L net of fees since the ledger began", "realized_total"),
    ("bot_realized_pnl_today_usdt", "Realized P&L net of fees since 00:00 UTC", "realized_today"),
    ("bot_fees_usdt", "Fees paid since the ledger began", "fees"),
    ("bot_equity_usdt", "Capital plus realized net P&L", "equity"),
    ("bot_drawdown_usdt", "Equity below its peak", "drawdown"),
    (
        "bot_win_rate_ratio",
        "Closed positions with a positive net result / closed positions",
        "win_rate",
    ),
)


def stop_coverage(health: dict[str, Any]) -> float:
    """protected / (open + unreadable symbols): each symbol whose stored state could not be read
    counts as an open position without a known stop (what it holds is unknown), so a rule on
    ``bot_stop_coverage_ratio < 1`` fires for it (found by review: it read 1.0 with an unknown
    position on the exchange). The status's ``ts_coverage`` is the same figure now; it is
    computed here from the counts so that a status written before that change reads right."""
    unknown = int(health.get("unreadable_symbols") or 0)
    if not unknown:
        return float(health["ts_coverage"])
    return health["protected_positions"] / (health["open_positions"] + unknown)


def _accounts(status: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return dict(status.get("accounts") or {})


def _account_families(status: dict[str, Any]) -> Iterator[Any]:
    accounts = _accounts(status)
    yield from _currency_families(status, accounts)
    for name, doc, read in ACCOUNT_GAUGES:
        g = _g(name, doc, ["account"])
        for account, entry in accounts.items():
            g.add_metric([account], float(read(entry)))
        yield g
    for name, doc, key in PNL_GAUGES:
        g = _g(name, doc, ["account"])
        for account, entry in accounts.items():
            value = (entry.get("pnl") or {}).get(key)
            if value is not None:
                g.add_metric([account], float(value))
        yield g
    tripped = _g(
        "bot_protection_tripped",
        "1 while a protection refuses entries",
        ["account", "protection", "symbol"],
    )
    for account, entry in accounts.items():
        for row in entry.get("protections") or []:
            tripped.add_metric([account, row["name"], row.get("symbol") or ""], 1.0)
    yield tripped


def _currency_families(status: dict[str, Any],
                       accounts: dict[str, dict[str, Any]]) -> Iterator[Any]:
    """Whether each account's figures are current: the bot still writes its status
    (``bot.heartbeat_stale``, from the dashboard's clock) and, with ``--workers``, the account's
    worker is alive and writing its snapshot. A dead or hung worker's accounts keep their last
    figures, which read exactly like live ones without this (found by review: ``bot_up`` 1 and
    a fresh parent heartbeat, stop coverage 1 from a killed worker's last snapshot)."""
    stale = bool((status.get("bot") or {}).get("heartbeat_stale"))
    current = _g("bot_account_current",
                 "1 while the account's figures are current: the bot writes its status and "
                 "(with --workers) the account's worker is alive and writing its snapshot",
                 ["account"])
    age = _g("bot_account_snapshot_age_seconds",
             "With --workers, the age of a not-current account's last snapshot", ["account"])
    for account, entry in accounts.items():
        alive = entry.get("worker_alive", True) is not False
        current.add_metric([account], 1.0 if alive and not stale else 0.0)
        if entry.get("snapshot_age_s") is not None:
            age.add_metric([account], float(entry["snapshot_age_s"]))
    # a configured account with no figures at all (its worker died or hung before its first
    # snapshot): not current, rather than no sample that a `== 0` rule never sees
    for account in (status.get("bot") or {}).get("accounts") or ():
        if isinstance(account, str) and account not in accounts:
            current.add_metric([account], 0.0)
    yield from (current, age)


def _actor_families(status: dict[str, Any]) -> Iterator[Any]:
    restarts = CounterMetricFamily(
        "bot_actor_restarts", "Restarts of a symbol's actor", labels=["account", "symbol"]
    )
    failures = _g(
        "bot_actor_close_failures",
        "Failed close attempts of the current close",
        ["account", "symbol"],
    )
    mailbox = _g(
        "bot_actor_mailbox_messages",
        "Messages waiting in the actor's mailbox",
        ["account", "symbol"],
    )
    state = _g(
        "bot_actor_state", "1 for the actor's supervision state", ["account", "symbol", "state"]
    )
    for account, entry in _accounts(status).items():
        for a in entry.get("actors") or []:
            labels = [account, a["symbol"]]
            restarts.add_metric(labels, float(a.get("restarts") or 0))
            failures.add_metric(labels, float(a.get("close_failures") or 0))
            mailbox.add_metric(labels, float(a.get("mailbox") or 0))
            state.add_metric([*labels, str(a.get("state"))], 1.0)
    yield from (restarts, failures, mailbox, state)


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
    pending = _g("bot_notifications_pending", "Notifications waiting to be sent", ["channel"])
    for channel, s in stats.items():
        sent.add_metric([channel], float(s.get("sent", 0)))
        failed.add_metric([channel], float(s.get("failed_attempts", 0)))
        pending.add_metric([channel], float(s.get("pending", 0)))
    yield from (sent, failed, pending)
