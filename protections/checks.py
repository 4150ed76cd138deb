"""The protections as entry checks. The one entry gate calls ``refuse(symbol, now)`` of every
registered check for every entry; a non-None answer is the journaled refusal reason.

``refuse`` only reads the check's own state (no I/O, no lock), so it can run on any actor's
thread. ``evaluate`` moves the state from the ledger totals; it runs on the account's protection
loop (protections/guard.py) and returns the trips it caused, for the alert.
"""

from __future__ import annotations

import math
from bisect import bisect_left, insort
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol

from protections.ledger_feed import LedgerTotals, day_start


class EntryCheck(Protocol):
    name: str

    def refuse(self, symbol: str, now: float) -> str | None: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class Trip:
    """A protection that just tripped (alerted once, journaled, shown everywhere)."""

    name: str
    reason: str
    symbol: str | None = None


def _time(value: Any) -> float:
    """A saved time: epoch seconds, finite (JSON reads NaN, Infinity and 1e999 as floats; a NaN
    time made every tick raise in `day_start`, a NaN pause end refused nothing)."""
    seconds = float(value)
    if not math.isfinite(seconds):
        raise ValueError(f"saved time {value!r} is not a time")
    return seconds


def _fmt(value: Decimal) -> str:
    return f"{value.quantize(Decimal('0.01'))}"


class _AccountTrip:
    """An account-wide protection: tripped (since when, why) or not; while tripped it refuses
    every entry with its reason. Its state is what the guard persists."""

    name = ""

    def __init__(self, *, limit: Decimal) -> None:
        self.limit = limit
        self.tripped_since: float | None = None
        self.reason: str | None = None

    def refuse(self, symbol: str, now: float) -> str | None:
        return self.reason if self.tripped_since is not None else None

    def _trip(self, now: float, reason: str) -> list[Trip]:
        self.tripped_since, self.reason = now, reason
        return [Trip(name=self.name, reason=reason)]

    def _clear(self) -> None:
        self.tripped_since = self.reason = None

    def state(self) -> dict[str, Any]:
        return {"tripped_since": self.tripped_since, "reason": self.reason}

    def restore(self, data: dict[str, Any]) -> None:
        since = data.get("tripped_since")
        self.tripped_since = None if since is None else _time(since)
        self.reason = None if since is None else str(data.get("reason"))


class DailyLossLimit(_AccountTrip):
    """Realized net loss since 00:00 UTC at or past the limit stops entries until the next UTC
    day (or a person's reset, after which only later losses count). A trip records the limit
    it stands against: under a higher one (the user raised it; the config reaches the guard at
    start) it is judged again, and clears when the day's loss is within the new limit."""

    name = "daily_loss_limit"

    def __init__(self, *, limit: Decimal) -> None:
        super().__init__(limit=limit)
        self.tripped_limit: Decimal | None = None
        """The limit the trip stands against (None: saved by a version that did not say)."""
        self.lapsed: dict[str, Any] | None = None
        """The last trip a new UTC day ended (its state): a wall clock stepped back into its
        day puts it in force again, not alerted again. Found by review: a clock stepped forward
        over midnight for a pass and back (a bad NTP answer) ended the trip, and the step back
        tripped it anew: a second alert and journal row for the same loss."""

    def evaluate(self, totals: LedgerTotals, now: float) -> list[Trip]:
        if self.tripped_since is not None and day_start(now) > day_start(self.tripped_since):
            lapsed = super().state() | {"limit": self.state()["limit"]}
            self._clear()  # the reset rule: a new UTC day
            self.lapsed = lapsed
        elif (self.tripped_since is None and self.lapsed is not None
              and day_start(now) <= day_start(_time(self.lapsed["tripped_since"]))):
            self.restore(self.lapsed)  # the clock stepped back into the trip's day
        if self.tripped_since is not None and (self.tripped_limit is None
                                               or self.limit > self.tripped_limit):
            if -totals.day_net < self.limit:
                self._clear()  # the limit was raised past the day's loss
            else:
                self.tripped_limit = self.limit  # still reached: it stands against this one
        if self.tripped_since is None and -totals.day_net >= self.limit:
            return self._trip(now, f"daily loss limit: {_fmt(totals.day_net)} USDT today "
                                   f"(limit -{_fmt(self.limit)})")
        return []

    def _trip(self, now: float, reason: str) -> list[Trip]:
        self.tripped_limit, self.lapsed = self.limit, None
        return super()._trip(now, reason)

    def _clear(self) -> None:
        super()._clear()
        self.tripped_limit = self.lapsed = None

    def state(self) -> dict[str, Any]:
        limit = None if self.tripped_limit is None else str(self.tripped_limit)
        return {**super().state(), "limit": limit, "lapsed": self.lapsed}

    def restore(self, data: dict[str, Any]) -> None:
        super().restore(data)
        limit = data.get("limit") if self.tripped_since is not None else None
        self.tripped_limit = None if limit is None else Decimal(str(limit))
        if self.tripped_limit is not None and not self.tripped_limit.is_finite():
            raise ValueError(f"daily_loss_limit: saved limit {limit!r} is not a number")
        lapsed = data.get("lapsed")
        if lapsed is not None:
            _time(lapsed["tripped_since"])  # a saved lapsed trip that is not one: unreadable
        self.lapsed = None if lapsed is None else {k: lapsed.get(k) for k in
                                                   ("tripped_since", "reason", "limit")}

    def reset(self, totals: LedgerTotals, now: float) -> None:
        totals.reset_daily(now)
        self._clear()


class MaxDrawdown(_AccountTrip):
    """The ledger's equity falling ``limit`` below its peak stops entries until a person resets
    it (the peak then restarts from the equity at that moment). The deepest fall of the curve
    counts, not the one at the pass: found by review, a fall past the limit recovered before
    the next pass (or before a restart, whose first pass sees the replayed ledger's end) never
    tripped."""

    name = "max_drawdown"

    def evaluate(self, totals: LedgerTotals, now: float) -> list[Trip]:
        if self.tripped_since is None and totals.worst_drawdown >= self.limit:
            # "fell": the deepest fall, which the curve may since have recovered from
            return self._trip(now, f"max drawdown: equity fell {_fmt(totals.worst_drawdown)} "
                                   f"USDT below its peak (limit {_fmt(self.limit)})")
        return []

    def reset(self, totals: LedgerTotals, now: float) -> None:
        totals.reset_peak()
        self._clear()


class StopLossGuard:
    """``count`` stop-outs of one symbol within ``window_s`` pause that symbol's entries for
    ``pause_s`` after the last one; a person's reset lifts the pause and forgets those stop-outs."""

    name = "stoploss_guard"

    def __init__(self, *, count: int, window_s: float, pause_s: float) -> None:
        self.count, self.window_s, self.pause_s = count, window_s, pause_s
        self.paused: dict[str, dict[str, Any]] = {}
        """symbol -> {since, until, reason}"""
        self.reset_at: dict[str, float] = {}
        self.reset_fill: dict[str, int] = {}
        """symbol -> the ledger's last row read at a person's reset: the stop-outs booked up to
        it are forgotten, a later one counts even dated before the reset (by its fill time)."""
        self._recent: dict[str, list[float]] = {}
        """symbol -> closing times of its stop-outs within the window, oldest first"""

    def refuse(self, symbol: str, now: float) -> str | None:
        entry = self.paused.get(symbol)
        return entry["reason"] if entry is not None and now < entry["until"] else None

    def evaluate(self, totals: LedgerTotals, now: float) -> list[Trip]:
        """Count the tick's stop-outs in order of closing (a replay after a restart hands over
        the whole ledger's, batch after batch: the recent ones are rebuilt from it)."""
        trips: list[Trip] = []
        for symbol, closed_at, *row in sorted(totals.stop_outs, key=lambda s: s[1]):
            if self._forgotten(symbol, closed_at, row):
                continue
            recent = self._recent.setdefault(symbol, [])
            insort(recent, closed_at)
            del recent[:bisect_left(recent, recent[-1] - self.window_s)]
            until = recent[-1] + self.pause_s  # after the last one (a late report may be older)
            if len(recent) < self.count or until <= now:
                continue
            entry = self.paused.get(symbol)
            if entry is not None and now < entry["until"]:  # still paused: it ends later now
                entry["until"] = max(entry["until"], until)  # (alerted once, when it tripped)
                continue
            reason = (f"stop-loss guard: {len(recent)} stop-outs within "
                      f"{self.window_s:.0f}s; paused for {self.pause_s:.0f}s")
            self.paused[symbol] = {"since": now, "until": until, "reason": reason}
            trips.append(Trip(name=self.name, reason=reason, symbol=symbol))
        # a pause that ran out stays (one per symbol, replaced by the next trip): it is in force
        # while `now` is before its end, so a wall clock stepped past that end for a pass and
        # back does not lift it for good (found by review: it was dropped and saved dropped)
        return trips

    def _forgotten(self, symbol: str, closed_at: float, row: list[int]) -> bool:
        """Booked before a person's reset (a reset stored by an older version: dated before)."""
        reset_row = self.reset_fill.get(symbol)
        if reset_row is not None and row:
            return row[0] <= reset_row
        return closed_at <= self.reset_at.get(symbol, 0.0)

    def reset(self, symbol: str, now: float, last_fill_id: int | None = None) -> None:
        self.paused.pop(symbol, None)
        self._recent.pop(symbol, None)
        self.reset_at[symbol] = now
        if last_fill_id is not None:
            self.reset_fill[symbol] = last_fill_id

    def state(self) -> dict[str, Any]:
        """A copy: `evaluate` and `reset` change the live dicts in place, and the guard saves
        only when the state differs from the one it took before (an alias never differs)."""
        return {"paused": {s: dict(e) for s, e in self.paused.items()},
                "reset_at": dict(self.reset_at), "reset_fill": dict(self.reset_fill)}

    def restore(self, data: dict[str, Any]) -> None:
        self.paused = {str(s): {"since": _time(e["since"]), "until": _time(e["until"]),
                                "reason": str(e["reason"])}
                       for s, e in (data.get("paused") or {}).items()}
        self.reset_at = {k: _time(v) for k, v in (data.get("reset_at") or {}).items()}
        self.reset_fill = {str(k): int(v) for k, v in (data.get("reset_fill") or {}).items()}
