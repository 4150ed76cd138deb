"""The volume a backtest's ticks carry: the ticker's 24 h quote volume, as in paper mode.

Live and in paper mode the market feed hands the strategy the ticker's 24 h quote volume
(actors/market_feed.py), which `strategy.min_volume` is compared with. The paper exchange's CSV
source computes it from the recorded candles (exchange/paper/csv_prices.py
`CsvPriceSource.volume_24h`): while candle i is replayed, the sum of volume x close of the
candles whose timestamps lie in the 24 h up to candle i's (candle i included). The backtest
uses that very computation (the source's prefix sums, `_Volumes.day_up_to`) once per candle,
before the replay; every price point of a candle carries its candle's value, so one config
decides the same in both. The window reaches back into the file's candles before `--from`
(`Candles.day_before`).

Only a strategy that can read the volume gets it: the mean-reversion strategy with
`min_volume` 0 never compares it (a volume is never below 0), so its ticks carry None, as
paper ticks of generated prices do; that saves the computation (~3 s per million candles)
and changes no decision.
"""

from __future__ import annotations

from decimal import Decimal

from backtest.candles import Candles
from exchange.paper.csv_prices import _Volumes
from strategies.base import Strategy
from strategies.mean_reversion import MeanReversion


def quote_volume_24h(c: Candles) -> list[Decimal]:
    """Per candle of `c`: the paper ticker's 24 h quote volume while that candle is replayed."""
    ts, volume, close = c.day_before
    lead = len(ts)
    base = volume + c.volume
    quote = [v * p for v, p in zip(base, close + c.close, strict=True)]
    sums = _Volumes(ts + c.ts, base, quote)
    return [sums.day_up_to(i)[1] for i in range(lead, lead + len(c))]


def reads_volume(strategy: Strategy | None) -> bool:
    """Whether `strategy` may look at a tick's volume (see the module's docstring)."""
    if strategy is None:
        return False
    return not (type(strategy) is MeanReversion and strategy.min_volume <= 0)


def for_strategy(c: Candles, strategy: Strategy | None) -> list[Decimal] | None:
    """The volumes of `c`'s candles for a loop with `strategy`; None: it reads none."""
    return quote_volume_24h(c) if reads_volume(strategy) else None
