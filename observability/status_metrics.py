"""The status snapshot's part of ``/metrics`` (observability/metrics.py): liveness, each
account's positions, stop coverage, protections, P&L, and each actor's supervision figures, read
from the dict ``status --json`` prints at scrape time.

The snapshot is a file another process wrote (``status.json``): a value in it that is not what
the status writes (a hand edit, a damaged disk) leaves out its own samples, named in one line
per problem (``Reading``), and everything else is still exported.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, InfoMetricFamily

from supervision.reconcile_watch import shown_unchecked


def gauge(name: str, doc: str, labels: list[str]) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, doc, labels=labels)


class Reading:
    """One scrape's reading of the status snapshot. A value that is not what the status writes
    (a hand edit, a damaged file: ``accounts`` not an object, a start time that is no number)
    leaves out its samples and is one line here, naming where it is and the metrics it left
    out; everything else is exported (found by review: such a status made ``/metrics`` a 500)."""

    def __init__(self) -> None:
        self.problems: dict[str, list[str]] = {}

    def bad(self, problem: str, metric: str) -> None:
        self.problems.setdefault(problem, []).append(metric)

    def number(self, value: Any, where: str, metric: str) -> float | None:
        """``value`` as a float (numbers and the status's decimal strings), or None and a
        problem for anything else: a bool, text, NaN or an infinity."""
        try:
            number = math.nan if isinstance(value, bool) else float(value)
        except (TypeError, ValueError, OverflowError):
            number = math.nan
        if math.isfinite(number):
            return number
        self.bad(f"{where} {str(value)[:40]!r} is not a number", metric)
        return None

    def lines(self) -> list[str]:
        return [f"metrics: status {problem} (left out: {', '.join(dict.fromkeys(metrics))})"
                for problem, metrics in self.problems.items()]


def _bot(status: dict[str, Any], reading: Reading) -> dict[str, Any]:
    bot = status.get("bot") or {}
    if isinstance(bot, dict):
        return bot
    reading.bad("bot is not an object", "bot_*")
    return {}


def _bot_families(status: dict[str, Any], reading: Reading) -> Iterator[Any]:
    bot = _bot(status, reading)
    up = gauge("bot_up", "1 while the bot holds its instance lock", [])
    up.add_metric([], 1.0 if bot.get("running") else 0.0)
    yield up
    for key, name, doc in (
        ("heartbeat_at", "bot_heartbeat_timestamp_seconds", "Last status write"),
        ("started_at", "bot_start_time_seconds", "When the bot started"),
    ):
        if bot.get(key) is not None:
            value = reading.number(bot[key], f"bot.{key}", name)
            if value is not None:
                g = gauge(name, doc, [])
                g.add_metric([], value)
                yield g
    info = InfoMetricFamily("bot_build", "Running version and mode")
    info.add_metric(
        [], {"version": str(bot.get("version") or ""), "mode": str(bot.get("mode") or "")}
    )
    yield info


def _flag(value: Any) -> float:
    if value not in (True, False):  # also 1 and 0
        raise ValueError(f"{str(value)[:40]!r} is not true or false")
    return float(value)


ACCOUNT_GAUGES = (
    (
        "bot_open_positions",
        "Open positions (a hedge-grid leg counts as one)",
        "health.open_positions",
        lambda a: a["health"]["open_positions"],
    ),
    (
        "bot_protected_positions",
        "Open positions with their exchange stop in place",
        "health.protected_positions",
        lambda a: a["health"]["protected_positions"],
    ),
    (
        "bot_stop_coverage_ratio",
        "Protected / (open positions + unreadable symbols): 1 when none is open and every "
        "symbol's state was read; an unreadable symbol's position is unknown, so below 1",
        "health",
        lambda a: stop_coverage(a["health"]),
    ),
    (
        "bot_unreadable_symbols",
        "Symbols quarantined with unreadable state (their positions are in no other count)",
        "health.unreadable_symbols",
        lambda a: a["health"].get("unreadable_symbols", 0),
    ),
    (
        "bot_restoring_symbols",
        "Actors that have not restored their state yet after a start or restart (what they "
        "hold is in no other count yet)",
        "health.restoring_symbols",
        lambda a: a["health"].get("restoring_symbols", 0),
    ),
    (
        "bot_unreconciled_positions",
        "Running symbols holding a position not reconciled with the exchange (as the books "
        "last held it: after a start until its first reconciliation, or while it fails)",
        "actors",
        lambda a: len(shown_unchecked(a["actors"])),
    ),
    ("bot_kill_switch", "1 while the account's kill switch is on", "kill_switch",
     lambda a: _flag(a["kill_switch"])),
    ("bot_open_escalations", "Escalations not yet resolved", "escalations",
     lambda a: len(a["escalations"])),
    (
        "bot_emergency_closes_owed",
        "Escalated positions still owed their emergency close (a failed or cut-short run, "
        "retried; a symbol taken off the list included)",
        "emergency_closes_owed",
        lambda a: len(a.get("emergency_closes_owed") or []),
    ),
    (
        "bot_emergency_closes_not_booked",
        "Emergency closes sent whose fill is not booked yet (the symbol's actor is stopped)",
        "emergency_closes_not_booked",
        lambda a: len(a.get("emergency_closes_not_booked") or []),
    ),
    (
        "bot_entries_paused",
        "1 while a person paused new entries",
        "entries_paused",
        lambda a: float(a.get("entries_paused") is not None),
    ),
)
OPTIONAL_FIELDS = frozenset({"entries_paused", "emergency_closes_owed",
                             "emergency_closes_not_booked"})
"""Account fields a status may leave out (none paused, owed or unbooked; a status written by an
older version has no emergency close fields): read as 0, no warning."""
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
UNREADABLE = (KeyError, IndexError, TypeError, AttributeError, ValueError, ArithmeticError)
"""What reading a value of a malformed status raises: its samples are left out."""


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


def _accounts(status: dict[str, Any], reading: Reading) -> dict[str, dict[str, Any]]:
    """The status's accounts that are objects (a JSON object's keys are strings)."""
    accounts = status.get("accounts") or {}
    if not isinstance(accounts, dict):
        reading.bad("accounts is not an object", "every account's metrics")
        return {}
    readable = {}
    for account, entry in accounts.items():
        if isinstance(entry, dict):
            readable[str(account)] = entry
        else:
            reading.bad(f"accounts.{account} is not an object", "its metrics")
    return readable


def _account_families(status: dict[str, Any], accounts: dict[str, dict[str, Any]],
                      reading: Reading) -> Iterator[Any]:
    yield from _currency_families(status, accounts, reading)
    for name, doc, field, read in ACCOUNT_GAUGES:
        g = gauge(name, doc, ["account"])
        for account, entry in accounts.items():
            part = entry.get(field.split(".")[0])  # one line for all the gauges it leaves out
            if part is None and field not in OPTIONAL_FIELDS:
                reading.bad(f"accounts.{account}: no {field.split('.')[0]!r}", name)
                continue
            if field.startswith("health") and not isinstance(part, dict):
                reading.bad(f"accounts.{account}.health is not an object", name)
                continue
            try:
                value = read(entry)
            except KeyError as exc:
                reading.bad(f"accounts.{account}: no {exc.args[0]!r}", name)
                continue
            except UNREADABLE as exc:
                reading.bad(f"accounts.{account}.{field} unreadable: {str(exc)[:80]}", name)
                continue
            number = reading.number(value, f"accounts.{account}.{field}", name)
            if number is not None:
                g.add_metric([account], number)
        yield g
    for name, doc, key in PNL_GAUGES:
        g = gauge(name, doc, ["account"])
        for account, entry in accounts.items():
            pnl = entry.get("pnl") or {}
            # figures of a pass that could not read the ledger: left out, as unknown ones are
            current = isinstance(pnl, dict) and not pnl.get("not_current")
            value = pnl.get(key) if current else None
            if not isinstance(pnl, dict):
                reading.bad(f"accounts.{account}.pnl is not an object", name)
            elif value is not None and (
                    number := reading.number(value, f"accounts.{account}.pnl.{key}", name)
            ) is not None:
                g.add_metric([account], number)
        yield g
    yield _tripped(accounts, reading)


def _tripped(accounts: dict[str, dict[str, Any]], reading: Reading) -> GaugeMetricFamily:
    name = "bot_protection_tripped"
    tripped = gauge(name, "1 while a protection refuses entries",
                    ["account", "protection", "symbol"])
    for account, entry in accounts.items():
        rows = entry.get("protections") or []
        for row in rows if isinstance(rows, list) else [rows]:
            if isinstance(row, dict) and isinstance(row.get("name"), str) \
                    and isinstance(row.get("symbol") or "", str):
                tripped.add_metric([account, row["name"], row.get("symbol") or ""], 1.0)
            else:
                reading.bad(f"accounts.{account}.protections: {str(row)[:40]!r} is not a "
                            "protection", name)
    return tripped


def _currency_families(status: dict[str, Any], accounts: dict[str, dict[str, Any]],
                       reading: Reading) -> Iterator[Any]:
    """Whether each account's figures are current: the bot runs (``bot.running``, the lock)
    and still writes its status (``bot.heartbeat_stale``, from the dashboard's clock) and, with
    ``--workers``, the account's
    worker is alive and writing its snapshot. A dead or hung worker's accounts keep their last
    figures, which read exactly like live ones without this (found by review: ``bot_up`` 1 and
    a fresh parent heartbeat, stop coverage 1 from a killed worker's last snapshot)."""
    bot = _bot(status, reading)
    # a bot that stopped (no lock) manages nothing, though its last status is still fresh
    stale = bool(bot.get("heartbeat_stale")) or bot.get("running") is False
    current = gauge("bot_account_current",
                    "1 while the account's figures are current: the bot writes its status and "
                    "(with --workers) the account's worker is alive and writing its snapshot",
                    ["account"])
    age = gauge("bot_account_snapshot_age_seconds",
                "With --workers, the age of a not-current account's last snapshot", ["account"])
    for account, entry in accounts.items():
        alive = entry.get("worker_alive", True) is not False
        current.add_metric([account], 1.0 if alive and not stale else 0.0)
        if entry.get("snapshot_age_s") is not None:
            seconds = reading.number(entry["snapshot_age_s"], f"accounts.{account}.snapshot_age_s",
                                     "bot_account_snapshot_age_seconds")
            if seconds is not None:
                age.add_metric([account], seconds)
    # a configured account with no figures at all (its worker died or hung before its first
    # snapshot): not current, rather than no sample that a `== 0` rule never sees
    configured = bot.get("accounts") or []
    if not isinstance(configured, list | tuple):
        reading.bad("bot.accounts is not a list", "bot_account_current")
        configured = ()
    for account in configured:
        if isinstance(account, str) and account not in accounts:
            current.add_metric([account], 0.0)
    yield from (current, age)


def _actor_families(accounts: dict[str, dict[str, Any]], reading: Reading) -> Iterator[Any]:
    restarts = CounterMetricFamily(
        "bot_actor_restarts", "Restarts of a symbol's actor", labels=["account", "symbol"]
    )
    failures = gauge(
        "bot_actor_close_failures",
        "Failed close attempts of the current close",
        ["account", "symbol"],
    )
    mailbox = gauge(
        "bot_actor_mailbox_messages",
        "Messages waiting in the actor's mailbox",
        ["account", "symbol"],
    )
    state = gauge(
        "bot_actor_state", "1 for the actor's supervision state", ["account", "symbol", "state"]
    )
    for account, entry in accounts.items():
        actors = entry.get("actors") or []
        for a in actors if isinstance(actors, list) else [actors]:
            if not isinstance(a, dict) or not isinstance(a.get("symbol"), str):
                reading.bad(f"accounts.{account}.actors: {str(a)[:40]!r} is not an actor",
                            "bot_actor_*")
                continue
            labels, where = [account, a["symbol"]], f"accounts.{account}.actors.{a['symbol']}"
            for family, key in ((restarts, "restarts"), (failures, "close_failures"),
                                (mailbox, "mailbox")):
                value = reading.number(a.get(key) or 0, f"{where}.{key}", family.name)
                if value is not None:
                    family.add_metric(labels, value)
            state.add_metric([*labels, str(a.get("state"))], 1.0)
    yield from (restarts, failures, mailbox, state)


def status_families(status: Any, reading: Reading) -> Iterator[Any]:
    """Every family read from the status snapshot (None: not written yet)."""
    if not isinstance(status, dict):
        if status is not None:
            reading.bad("is not an object", "every status metric")
        status = {}
    yield from _bot_families(status, reading)
    accounts = _accounts(status, reading)
    yield from _account_families(status, accounts, reading)
    yield from _actor_families(accounts, reading)
