"""Which symbols the venue's price stream priced after a mark, so that a REST price asked
before then (older) does not replace the streamed one: the live feed (actors/stream_feed.py
over actors/market_feed.py) and the dry run's ticker source (exchange/ccxt/stream_tickers.py)."""

from __future__ import annotations

from collections.abc import Iterable


class PriceMarks:
    """Which symbols another source (the venue's price stream) priced after a mark: a REST
    price asked before that is older and is not delivered after it (actors/stream_feed.py). The
    stream's thread marks before it writes the slot, and a REST price is looked at again at
    its write, under the slot's lock (`PriceSlot.offer`): a streamed price written before is
    seen, one written after replaces it."""

    def __init__(self) -> None:
        self.seq = 0
        self._at: dict[str, int] = {}

    def took(self, symbols: Iterable[str]) -> None:
        """The stream priced `symbols` now (one writer: the streams' thread)."""
        self.seq = seq = self.seq + 1
        for symbol in symbols:
            self._at[symbol] = seq

    def newer(self, symbol: str, mark: int) -> bool:
        """`symbol` was priced by the stream after `mark` (a `seq` read before a REST call)."""
        return self._at.get(symbol, 0) > mark
