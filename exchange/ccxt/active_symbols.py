"""Which symbols' own trades a fills poll asks for (Binance's `userTrades` needs a symbol and
weighs 5 per symbol): those with an order of ours or a position size change lately."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import Any

from exchange.ccxt import convert
from exchange.records import VenuePosition


class ActiveSymbols:
    """Which symbols can have new fills: those sent an order, or whose position changed size
    (opened, reduced, closed, flipped), within `window_s`. A symbol holding the same position
    since the last look has no new fill: any fill changes a position's size, and our own orders
    mark their symbol themselves. Polling every held symbol instead cost Binance 5 weight per
    held symbol a poll: with the streams down and 20 positions, ~1,300 weight a minute of its
    2,400 (bench_rate_budget.py, streams-down row) for trades that were not there.

    Observations come from every position read of the gateway, not only from the poll: while
    the streams carry the fills the poll does not run, and the reconcile's per-symbol position
    reads keep this current. So a stop that fills while the socket is down is on a symbol
    already known to hold, and the first REST poll sees its size change and asks for its trades
    (a poll that only compared with its own previous answer would find the symbol flat and never
    ask); a change a reconcile's read saw first keeps the symbol asked for `window_s`."""

    def __init__(self, clock: Callable[[], float], window_s: float = 60.0) -> None:
        self._clock, self._window = clock, window_s
        self._lock = threading.Lock()
        self._sizes: dict[str, tuple[tuple[str, str, Decimal], ...]] = {}
        """Per held symbol, its legs (position side, side, contracts) at the last look."""
        self._recent: dict[str, float] = {}  # symbol -> when it was ordered or changed size

    def ordered(self, symbol: str) -> None:
        with self._lock:
            self._recent[symbol] = self._clock()

    def observed(self, positions: Iterable[VenuePosition], symbols: list[str] | None) -> None:
        """A position read answered: `symbols` were asked (None: all), `positions` hold."""
        legs: dict[str, list[tuple[str, str, Decimal]]] = {}
        for p in positions:
            if p.contracts != 0:
                legs.setdefault(p.symbol, []).append((p.position_side.value, p.side, p.contracts))
        now = self._clock()
        with self._lock:
            asked = set(self._sizes) | set(legs) if symbols is None else set(symbols)
            for symbol in asked:
                size = tuple(sorted(legs.get(symbol, ())))
                if size != self._sizes.get(symbol, ()):
                    self._recent[symbol] = now  # its fills are still to be read
                if size:
                    self._sizes[symbol] = size
                else:
                    self._sizes.pop(symbol, None)

    def to_poll(self, wanted: list[str], positions: Callable[[], list[VenuePosition]]
                ) -> list[str]:
        """`wanted` narrowed to the active symbols, after one all-symbol position read (which
        reports back through `observed`)."""
        positions()
        now = self._clock()
        with self._lock:
            self._recent = {s: at for s, at in self._recent.items() if now - at <= self._window}
            active = set(self._recent)
        return [s for s in wanted if s in active]

    def held(self) -> set[str]:
        with self._lock:
            return set(self._sizes)

    def read_shared(self, shared: tuple[list[Any], dict[str, str]], traded: list[str] | None,
                    exchange_id: str, said: set[str]) -> list[VenuePosition]:
        """`to_poll`'s read from Binance's shared all-symbol answer (lookup.shared_positions):
        a traded symbol whose row cannot be parsed is asked for its trades, its size unknown
        (the account's read raised for it: no symbol's fill came from REST meanwhile)."""
        rows, apart = shared
        for symbol in apart:
            self.ordered(symbol)
        positions = convert.positions(rows, exchange_id, traded, said)
        self.observed(positions, None if traded is None else [s for s in traded if s not in apart])
        return positions
