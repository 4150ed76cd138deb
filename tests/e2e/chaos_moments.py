"""Kill moments of the chaos run, and the proof that a kill happened inside one.

A moment is a predicate over what the bot has made durable: its SQLite database (orders whose
intent is committed but whose answer is not, a stop still open although its replacement or its
position's close is committed, a journaled signal nobody handled yet) and its log (actors that
have not started yet). The chaos run polls the predicate and kills the bot as soon as it holds;
after the kill it evaluates the same predicate on the dead bot's files, which nothing changes any
more. Only a predicate that still holds there proves the kill landed inside the moment: the
bot may have finished the step between the poll and the signal, and that kill is then a miss,
reported as one, never counted as reached.

Every query only looks at rows the current process wrote (`since`: its start on the wall clock),
so a state left over from an earlier kill never counts as reaching a moment again.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True, kw_only=True)
class Probe:
    """What a predicate may look at: the bot's database, its bot.log from `log_offset` on (the
    current process's lines), the process's start time and how many actors it runs."""

    db: Path
    log: Path
    log_offset: int
    since: float
    actors: int
    pid: int

    def query(self, sql: str, *args: object) -> list[tuple]:
        if not self.db.exists():
            return []
        con = sqlite3.connect(f"file:{self.db}?mode=ro", uri=True, timeout=30)
        try:
            con.execute("PRAGMA busy_timeout=30000")
            return con.execute(sql, args).fetchall()
        except sqlite3.OperationalError as exc:  # schema not created yet by a starting bot
            if "no such table" in str(exc):
                return []
            raise
        finally:
            con.close()

    def log_tail(self) -> bytes:
        try:
            with self.log.open("rb") as f:
                f.seek(self.log_offset)
                return f.read()
        except FileNotFoundError:
            return b""


Predicate = Callable[[Probe], str | None]
"""Evidence (symbol and order or signal id) when the bot is inside the moment, else None."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Moment:
    name: str
    what: str
    inside: Predicate


def _first(rows: list[tuple]) -> str | None:
    return " ".join(str(v) for v in rows[0]) if rows else None


def _pending(purpose: str, replaces: str) -> Predicate:
    def inside(p: Probe) -> str | None:
        return _first(p.query(
            f"SELECT symbol, client_order_id FROM orders WHERE purpose = ? AND status = 'pending' "
            f"AND replaces IS {replaces} AND created_at >= ? LIMIT 1", purpose, p.since))
    return inside


def starting(at_least: int = 0) -> Predicate:
    """The bot logged its start and fewer than all of its actors have started (at least
    `at_least` of them): it is loading state and reconciling with the exchange."""
    def inside(p: Probe) -> str | None:
        tail = p.log_tail()
        if f"bot starting: pid {p.pid} ".encode() not in tail:
            return None  # still importing: not yet the startup path we want to interrupt
        started = tail.count(b"| started (incarnation ")
        return f"{started} of {p.actors} actors started" if at_least <= started < p.actors \
            else None
    return inside


def _old_stop_cancel(p: Probe) -> str | None:
    """The new stop is acknowledged (committed as open), the old one it replaces is still open
    in the bot's view: the cancel of the old stop is in flight. The new stop was made by this
    process (a pair left over from an earlier kill, being reconciled, does not count)."""
    return _first(p.query(
        "SELECT o.symbol, o.client_order_id FROM orders o JOIN orders n "
        "ON n.replaces = o.client_order_id WHERE o.status = 'open' AND n.status = 'open' "
        "AND n.created_at >= ? LIMIT 1", p.since))


def _cancel_after_close(p: Probe) -> str | None:
    """The closing fill is committed (position closed), the position's exchange stop is still
    open in the bot's view: its cancel is in flight (incident 9)."""
    return _first(p.query(
        "SELECT o.symbol, o.client_order_id FROM orders o JOIN positions p "
        "ON p.position_id = o.position_id WHERE o.purpose = 'stop' AND o.status = 'open' "
        "AND p.status = 'closed' AND p.closed_at >= ? LIMIT 1", p.since))


def _signal_in_mailbox(p: Probe) -> str | None:
    """An external signal journaled as received and delivered, not yet handled or skipped:
    it sits in (or is being taken from) the actor's mailbox, which a kill throws away."""
    return _first(p.query(
        "SELECT r.symbol, r.correlation_id FROM events r WHERE r.type = 'SignalReceived' "
        "AND r.recorded_at >= ? AND NOT EXISTS (SELECT 1 FROM events h WHERE "
        "h.correlation_id = r.correlation_id AND h.type IN ('SignalHandled', 'SignalSkipped')) "
        "LIMIT 1", p.since))


def _anytime(p: Probe) -> str | None:
    return f"{time.time() - p.since:.2f}s after start"


MOMENTS: dict[str, Moment] = {m.name: m for m in (
    Moment(name="startup", what="actors starting and reconciling", inside=starting()),
    Moment(name="entry_in_flight", what="an entry order sent, its answer not committed",
           inside=_pending("entry", "NULL")),
    Moment(name="first_stop_in_flight", what="a new position's first stop order in flight",
           inside=_pending("stop", "NULL")),
    Moment(name="stop_move_in_flight", what="a trailing stop move (new stop) in flight",
           inside=_pending("stop", "NOT NULL")),
    Moment(name="old_stop_cancel_in_flight", what="the replaced stop's cancel in flight",
           inside=_old_stop_cancel),
    Moment(name="close_in_flight", what="a close order sent, its answer not committed",
           inside=_pending("close", "NULL")),
    Moment(name="cancel_after_close_in_flight", what="a closed position's stop cancel in flight",
           inside=_cancel_after_close),
    Moment(name="signal_in_mailbox", what="an external signal journaled, not yet handled",
           inside=_signal_in_mailbox),
    Moment(name="random", what="any moment", inside=_anytime),
)}


def wait_inside(moment: Moment, probe: Probe, timeout: float, alive: Callable[[], bool],
                before_each: Callable[[], None] = lambda: None,
                poll_s: float = 0.002) -> str | None:
    """Poll until the bot is inside `moment` (evidence) or `timeout` passes or it died (None).
    `before_each` runs before every look (the caller's snapshot of what is durable), so the
    caller can kill the moment this returns evidence."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and alive():
        before_each()
        evidence = moment.inside(probe)
        if evidence is not None:
            return evidence
        time.sleep(poll_s)
    return None
