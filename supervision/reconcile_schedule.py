"""Which symbols the supervisor's periodic `Reconcile` goes to (issue 12, REST cost).

Without the venue's streams (a stream down or silent, REST only) REST is the only way the bot
learns of a fill, a cancel or a position it did not open: the symbols holding something are
reconciled every `interval_s`, and so is every flat one in paper and dry-run (their exchange is
the paper exchange, which has no budget); live, the flat ones are left to the sweep (below).

While the streams are up they report all of that as it happens: order updates and fills per
symbol, and positions (a streamed size that differs from the actor's gets the symbol a
`Reconcile` within about a second: actors/stream_positions.py). The periodic look is then only
the cross-check, and 500 symbols x 5 reads every 30 s cost 63 % of Bybit's IP limit and 147 %
of Binance's weight in the 500-symbol bench. So, while `streams_ok()`:
- a symbol that holds something (a position or either grid leg, a live order, or a state not
  yet reconciled) is reconciled every `streamed_interval_s`;
- a flat symbol is not reconciled periodically; what could surprise it (a position or an order
  nobody of ours owns) is found by the account's all-symbol sweep (actors/exchange_sweep.py) and by
  the position stream.
The moment the streams are down, the next due tick reconciles everything again, except on a
live venue (`flat_by_sweep`): there a flat symbol is never reconciled one by one, streams or not,
and the account's sweep looks at all of them every `interval_s` while the streams are down (or
absent). One by one, 500 flat symbols cost Binance ~1,750 weight every 30 s: more than the
bot's whole budget, and the reconciliations outrank polling in the budget (exchange/budget.py
floors: 15 % against 50 %), so while a round ran the REST price polls that stand in for the
streams could not get their turn. Symbols that hold something are still reconciled every
`interval_s`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from actors.stream_positions import held_sizes
from trading.primitives import ZERO


def holds_anything(published: Any) -> bool:
    """True when a symbol's published state has a position, a grid leg, a live order, or has
    not been reconciled yet (no published state counts as holding: nothing is known)."""
    if published is None or not getattr(published, "reconciled", False):
        return True
    state = getattr(published, "state", None)
    if state is None:
        return True
    if getattr(state, "orders", ()):
        return True
    return any(size != ZERO for size in held_sizes(state).values())


class ReconcileSchedule:
    def __init__(self, *, interval_s: float, streamed_interval_s: float,
                 views: Mapping[str, Any],
                 streams_ok: Callable[[], bool] | None = None,
                 flat_by_sweep: bool = False) -> None:
        self.interval_s = interval_s
        self.streamed_interval_s = max(streamed_interval_s, interval_s)
        self.views = views
        self.streams_ok = streams_ok
        """True while the venue's streams are up (runtime wiring); None: there are none."""
        self.flat_by_sweep = flat_by_sweep
        """Live venue: flat symbols are left to the sweep also while the streams are down."""
        self._next = 0.0
        self._last: dict[str, float] = {}
        self.skipped = 0
        """Periodic reconciliations not sent to flat symbols (streams up, or the sweep's)."""

    def start(self, now: float) -> None:
        self._next = now + self.interval_s

    def due(self, now: float, symbols: Iterable[str]) -> set[str]:
        """The symbols to reconcile at this heartbeat (empty between ticks)."""
        if now < self._next:
            return set()
        self._next = now + self.interval_s
        symbols = list(symbols)
        if self.streams_ok is not None and self.streams_ok():
            chosen = {s for s in symbols if self._streamed_due(s, now)}
        elif self.flat_by_sweep:
            chosen = {s for s in symbols if holds_anything(self.views.get(s))}
        else:
            chosen = set(symbols)
        self.skipped += len(symbols) - len(chosen)
        for symbol in chosen:
            self._last[symbol] = now
        return chosen

    def _streamed_due(self, symbol: str, now: float) -> bool:
        if not holds_anything(self.views.get(symbol)):
            return False
        # a small slack so a 300 s interval on 30 s ticks fires on the 10th tick, not the 11th
        return now - self._last.get(symbol, float("-inf")) >= self.streamed_interval_s - 1e-3
