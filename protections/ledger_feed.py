"""The protections' view of the ledger: running totals kept up to date from new fills only.

``LedgerTotals.apply`` is pure bookkeeping over rows that ``storage.reports`` reads (fills after
a cursor, the positions they touched), so each refresh costs what is new, and a restart rebuilds
the same totals by replaying the ledger from the start once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from protections.peak import TimePeak
from trading.primitives import money_text
from trading.stop_outs import STOPPED_OUT

ZERO = Decimal(0)
DAY_S = 86_400.0
COUNTED_KEPT = 10_000
"""Closed positions remembered against a late fill (one touched again after 10,000 later
closes would count twice in wins/draws/losses, never in money)."""
DAYS_KEPT = 8
"""UTC days whose nets are kept (the newest by date: today, yesterday, a clock step's)."""


NOT_READ = "the ledger is not read yet (the protections' first pass failed: see the log)"
SUMMARY_FIGURES = ("realized_today", "realized_total", "gross_realized", "fees", "equity",
                   "drawdown", "wins", "draws", "losses", "win_rate")


def unknown_summary(reason: str) -> dict[str, Any]:
    """The status's P&L block while the totals are not read: every figure null and why (found
    by review: the empty totals showed as `realized 0`, `equity` the capital, `drawdown 0`,
    figures that read as real while the ledger held losses)."""
    return {**dict.fromkeys(SUMMARY_FIGURES), "unknown": reason}


def day_start(now: float) -> float:
    """00:00 UTC of ``now``'s day (the daily loss limit's day)."""
    d = datetime.fromtimestamp(now, tz=UTC)
    return d.replace(hour=0, minute=0, second=0, microsecond=0).timestamp()


def _closed_at(booked: Any, traded: float | None) -> float | None:
    """When a position closed for the stop-loss guard: its closing fill's time (the venue's,
    for a stop that filled while the bot was down and was booked at the restart), never later
    than its row's closing (booking) time. None: the row's time is unreadable (no stop-out)."""
    if booked is None:
        return None
    return float(booked) if traded is None else min(float(booked), traded)


@dataclass(slots=True, kw_only=True)
class Counted:
    """How a closed position was counted: its net so far, its outcome, a stop-out or not."""

    net: Decimal
    outcome: str
    """"win" (net above zero), "draw" (exactly zero: it paid its fees) or "loss"."""
    stop_out: tuple[str, float, int] | None
    """(symbol, closed_at, row) when it counts as a stop-out."""
    reason: str | None
    symbol: str
    closed_at: float | None
    row: int = 0
    """The ledger row that last moved it (its close's, or a fee told later): when it was
    booked, which a person's reset of the stop-loss guard compares (its time may be older)."""


@dataclass(slots=True, kw_only=True)
class LedgerTotals:
    """Realized P&L and fees (total and today), the equity peak, wins and losses, stop-outs."""

    base: Decimal = ZERO
    """Capital the equity curve starts from (for percentages)."""
    last_fill_id: int = 0
    realized: Decimal = ZERO
    fees: Decimal = ZERO
    day: float = 0.0
    """00:00 UTC of the wall clock's day at the last ``apply`` (``roll_day``)."""
    _days: dict[float, list[Decimal]] = field(default_factory=dict)
    """00:00 UTC of a row's day -> [its whole net, its net toward the daily loss limit (the rows
    a person's reset did not forgive)], the last few days: `day_net`, `day_total` and
    `prev_day_net` are read from it for the clock's day, as a restart's replay counts them."""
    daily_reset_at: float = 0.0
    """A person's reset of the daily loss limit: fills before it no longer count today."""
    daily_reset_fill_id: int | None = None
    """The ledger's last row read at that reset: the rows up to it (what the status showed)
    no longer count today, every later one does, even dated before the reset by the venue (a
    stop booked after it). None: a reset stored by a version that kept only its time."""
    peak_reset_fill_id: int = 0
    """A person's reset of the drawdown: the peak restarts at the equity after this fill."""
    _peak: TimePeak = field(default_factory=TimePeak)
    """The peak in the order of the rows' times, the equity curve's (protections/peak.py)."""
    wins: int = 0
    draws: int = 0
    """Closes that netted exactly zero: neither won nor lost (as the backtest report and
    Freqtrade count them; found by review: they were counted losses)."""
    losses: int = 0
    stop_outs: list[tuple[str, float, int]] = field(default_factory=list)
    """(symbol, closed_at, row: ``Counted.row``) of stop-outs (``trading.stop_outs.STOPPED_OUT``)
    not yet checked (``stop_outs_checked``): every batch of one tick adds to it, the guard's
    checks read it once."""
    closed_now: list[tuple[dict[str, Any], Decimal]] = field(default_factory=list)
    """Positions the last ``apply`` saw closed, with their net P&L from the ledger."""
    _counted: dict[str, Counted] = field(default_factory=dict)
    """Closed positions already counted, with how (a late row can touch one again and move it
    across zero), oldest first and bounded: a months-long run must not grow it without end."""
    _open_net: dict[str, Decimal] = field(default_factory=dict)
    """Net P&L so far of positions not yet seen closed (their fills, summed as they come)."""
    _last_row: dict[str, int] = field(default_factory=dict)
    """The last ledger row of positions not yet seen closed."""
    _traded_at: dict[str, float] = field(default_factory=dict)
    """When positions not yet seen closed last traded (their ledger rows' times: the venue's
    fill time where it told one, else the booking time)."""

    @property
    def net(self) -> Decimal:
        return self.realized - self.fees

    @property
    def equity(self) -> Decimal:
        return self.base + self.net

    @property
    def peak_net(self) -> Decimal:
        return self._peak.peak

    @property
    def drawdown(self) -> Decimal:
        return self.peak_net - self.net

    @property
    def day_net(self) -> Decimal:
        """What the daily loss limit counts today: the day's net from a person's reset on (a
        row dated after today, booked while the clock was ahead, counts today too)."""
        return sum((b[1] for d, b in self._days.items() if d >= self.day), ZERO)

    @property
    def day_total(self) -> Decimal:
        """The UTC day's whole net, a reset or not: the status's `realized_today` (found by
        review: a reset of the limit zeroed the day's P&L the status, /metrics and the summary
        showed)."""
        return sum((b[0] for d, b in self._days.items() if d >= self.day), ZERO)

    @property
    def prev_day_net(self) -> Decimal:
        """The UTC day before ``day``: its whole net, rows booked after midnight included (a
        fill is dated by the venue's fill time, so a stop that filled at 23:59:50 is booked at
        00:00:30 with yesterday's time): the daily summary's figure."""
        return self._days.get(self.day - DAY_S, [ZERO])[0]

    @property
    def worst_drawdown(self) -> Decimal:
        """The deepest fall of the equity curve below its peak since a person's reset."""
        return self._peak.worst

    @property
    def win_rate(self) -> float | None:
        closed = self.wins + self.draws + self.losses
        return None if closed == 0 else self.wins / closed

    def roll_day(self, now: float) -> None:
        """The clock's UTC day: a new day starts the day's count at zero. The rows are counted
        by their own day (``_days``), so a wall clock stepped over midnight, back (NTP, a VM
        restore) or forward and back again (a bad NTP answer), forgets none of the day's
        losses: the running count is a restart's replay's. Found by review: the day moved
        forward only, and after a step forward over midnight and back, every row of the real
        day counted as yesterday's, toward no limit, for the rest of the day."""
        self.day = day_start(now)

    def _prune(self) -> None:
        """The newest ``DAYS_KEPT`` days only (a replay of months of rows must not keep them)."""
        if len(self._days) > DAYS_KEPT:
            for old in sorted(self._days)[:len(self._days) - DAYS_KEPT]:
                del self._days[old]

    def stop_outs_checked(self) -> None:
        """The checks have seen the stop-outs: forget them (kept until then, so a tick that
        fails between two batches loses none)."""
        self.stop_outs = []

    def apply(
        self, fills: list[dict[str, Any]], positions: list[dict[str, Any]], now: float
    ) -> None:
        """Add new ledger rows (oldest first) and the positions they touched."""
        self.roll_day(now)
        self.closed_now = []
        for f in fills:
            self.skip_to(int(f["id"]) - 1)
            self.last_fill_id = max(self.last_fill_id, int(f["id"]))
            net = f["realized_pnl"] - f["fee"]
            counted = self._counted.get(f["position_id"])
            if counted is not None:  # a late row: a fee told later (trading/late_fees.py) or
                counted.row = max(counted.row, int(f["id"]))  # a fill committed after its
                self._recount(counted, net)  # position was read
            elif f["position_id"]:  # "": booked against no position (funding): money only
                self._open_net[f["position_id"]] = self._open_net.get(f["position_id"], ZERO) + net
                self._last_row[f["position_id"]] = int(f["id"])
                if f.get("traded", True):
                    at = self._traded_at.get(f["position_id"], f["created_at"])
                    self._traded_at[f["position_id"]] = max(at, f["created_at"])
            self.realized += f["realized_pnl"]
            self.fees += f["fee"]
            self._count_day(f, net)
            self._peak.add(f["created_at"], int(f["id"]), net, self.net)
            if f["id"] == self.peak_reset_fill_id:
                self._peak.restart(self.net)
        self._prune()
        for p in positions:
            if p["status"] != "closed" or p["position_id"] in self._counted:
                continue
            position_net = self._open_net.pop(p["position_id"], ZERO)
            closed_at = _closed_at(p["closed_at"], self._traded_at.pop(p["position_id"], None))
            counted = Counted(net=ZERO, outcome="draw", stop_out=None,
                              reason=p["close_reason"], symbol=p["symbol"], closed_at=closed_at,
                              row=self._last_row.pop(p["position_id"], self.last_fill_id))
            self.draws += 1  # a draw until its net says otherwise
            self._counted[p["position_id"]] = counted
            if len(self._counted) > COUNTED_KEPT:
                del self._counted[next(iter(self._counted))]
            self.closed_now.append((p, position_net))
            self._recount(counted, position_net)

    def _count_day(self, fill: dict[str, Any], net: Decimal) -> None:
        """A row counts in the UTC day of its time (today, or yesterday's summary when booked
        after midnight); toward the daily loss limit unless a person's reset forgave it."""
        if self.daily_reset_fill_id is not None:
            forgiven = int(fill["id"]) <= self.daily_reset_fill_id
        else:
            forgiven = fill["created_at"] < self.daily_reset_at
        day = self._days.setdefault(day_start(fill["created_at"]), [ZERO, ZERO])
        day[0] += net
        if not forgiven:
            day[1] += net

    def _recount(self, counted: Counted, net: Decimal) -> None:
        """Add `net` to a counted position and move it between wins, draws and losses, and in or
        out of the unchecked stop-outs, when its net crosses zero: a late fee can turn a small win
        into a loss (and a stop-loss close into a stop-out). A stop that locked in a profit
        (a trailing stop, mostly) is not a stop-out."""
        counted.net += net
        outcome = ("win" if counted.net > ZERO else "draw" if counted.net == ZERO else "loss")
        if outcome != counted.outcome:
            self._count(counted.outcome, -1)
            self._count(outcome, 1)
            counted.outcome = outcome
        stopped = (counted.net < ZERO and counted.reason in STOPPED_OUT
                   and counted.closed_at is not None)
        if stopped and counted.stop_out is None:
            assert counted.closed_at is not None
            counted.stop_out = (counted.symbol, counted.closed_at, counted.row)
            self.stop_outs.append(counted.stop_out)
        elif not stopped and counted.stop_out is not None:
            if counted.stop_out in self.stop_outs:  # not checked yet: it never was one
                self.stop_outs.remove(counted.stop_out)
            counted.stop_out = None

    def _count(self, outcome: str, step: int) -> None:
        if outcome == "win":
            self.wins += step
        elif outcome == "draw":
            self.draws += step
        else:
            self.losses += step

    def skip_to(self, fill_id: int) -> None:
        """Move the cursor past ledger rows that could not be read (they add nothing). A person's
        drawdown reset at a skipped row restarts the peak at the equity before it."""
        if self.last_fill_id < self.peak_reset_fill_id <= fill_id:
            self._peak.restart(self.net)
        self.last_fill_id = max(self.last_fill_id, fill_id)

    def reset_daily(self, now: float) -> None:
        self.daily_reset_at = now
        for day in self._days.values():
            day[1] = ZERO
        self.daily_reset_fill_id = self.last_fill_id

    def reset_peak(self) -> None:
        self.peak_reset_fill_id = self.last_fill_id
        self._peak.restart(self.net)

    def summary(self) -> dict[str, Any]:
        """The P&L block of the status dump (money as strings: decimals in JSON, to the 8
        places the venues book; a fee split over part fills carries 28 digits otherwise)."""
        rate = self.win_rate
        return {
            "realized_today": money_text(self.day_total),
            "realized_total": money_text(self.net),
            "gross_realized": money_text(self.realized),
            "fees": money_text(self.fees),
            "equity": money_text(self.equity),
            "drawdown": money_text(self.drawdown),
            "wins": self.wins,
            "draws": self.draws,
            "losses": self.losses,
            "win_rate": None if rate is None else round(rate, 4),
        }
