"""The drawdown's peak: the highest net P&L the ledger reached, in the order of its rows' times
(ties: booking order), the equity curve's order (``storage.reports.equity_points``).

A fill is dated by the venue's fill time, so rows arrive (in booking order, the ledger's ids) a
little out of time order all the time (two symbols' fills booked a moment apart), and a stop
that filled while the bot was down is booked at the restart, dated before rows booked earlier.
Taken in booking order the peak was not the curve's (found by review): the status's drawdown and
the max-drawdown protection saw another figure than the dashboard drew.

The newest rows (``TIME_KEPT`` to twice that) are kept in time order, so a row can take its
place among them; the older ones are folded into their sum and the highest point they reached.
A row dated before every row kept (booked after at least ``TIME_KEPT`` rows dated later) counts
at the newest folded row's time. Folding happens at fixed row counts, so a running bot and a
restart's replay, both reading the ledger in booking order, keep the same rows and agree.
"""

from __future__ import annotations

import math
from bisect import insort
from dataclasses import dataclass, field
from decimal import Decimal

ZERO = Decimal(0)
TIME_KEPT = 10_000
"""Rows kept in time order at least (at most twice that: they are folded in a block)."""


@dataclass(slots=True)
class TimePeak:
    rows: list[tuple[float, int, Decimal]] = field(default_factory=list)
    """(time, row id, net) of the newest rows, in time order."""
    folded_net: Decimal = ZERO
    folded_peak: Decimal = ZERO
    """The highest net the folded rows reached (the start, zero, included)."""
    folded_worst: Decimal = ZERO
    """The deepest fall below the peak the folded rows reached."""
    horizon: float = -math.inf
    """The newest folded row's time: no row counts before it."""
    _peak: Decimal = ZERO
    _worst: Decimal = ZERO
    _stale: bool = False
    """A row took its place before the newest: the peak is taken again when asked."""

    def add(self, at: float, row_id: int, net: Decimal, total: Decimal) -> None:
        """A new ledger row; ``total``: the ledger's net with it."""
        row = (max(at, self.horizon), row_id, net)
        if not self.rows or row[:2] > self.rows[-1][:2]:
            self.rows.append(row)
            self._peak = max(self._peak, total)  # the curve's new last point
            self._worst = max(self._worst, self._peak - total)
        else:
            insort(self.rows, row)
            self._stale = True
        if len(self.rows) > 2 * TIME_KEPT:
            self._fold(len(self.rows) - TIME_KEPT)

    def restart(self, total: Decimal) -> None:
        """A person's reset: the peak restarts at ``total``, and every later row counts after
        this point, whatever its time (as the daily loss limit's reset counts one)."""
        self._fold(len(self.rows))
        self.folded_net = self.folded_peak = self._peak = total
        self.folded_worst = self._worst = ZERO
        self._stale = False

    @property
    def peak(self) -> Decimal:
        self._fresh()
        return self._peak

    @property
    def worst(self) -> Decimal:
        """The deepest fall of the curve below its peak (since a person's reset): the max
        drawdown protection's figure, a fall the curve recovered from before a pass included."""
        self._fresh()
        return self._worst

    def _fresh(self) -> None:
        if self._stale:
            running, best, worst = self.folded_net, self.folded_peak, self.folded_worst
            for _, _, net in self.rows:
                running += net
                best = max(best, running)
                worst = max(worst, best - running)
            self._peak, self._worst, self._stale = best, worst, False

    def _fold(self, count: int) -> None:
        for at, _, net in self.rows[:count]:
            self.folded_net += net
            self.folded_peak = max(self.folded_peak, self.folded_net)
            self.folded_worst = max(self.folded_worst, self.folded_peak - self.folded_net)
            self.horizon = max(self.horizon, at)
        del self.rows[:count]
