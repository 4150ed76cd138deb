"""Issue 16 item 8: the paper ticker reports the recorded candles' volume (24 h, base and quote),
the market feed hands the strategy quote volume (what `strategy.min_volume` means), and so a
`min_volume` above 0 lets paper entries through when the market trades enough."""

from __future__ import annotations

from decimal import Decimal as D
from pathlib import Path

from loguru import logger

from actors.market_feed import MarketFeed
from actors.messages import Tick
from exchange.paper import CsvPriceSource, GeneratorPriceSource, PaperExchange
from strategies.mean_reversion import MeanReversion
from tests.exchange.paper.paper_support import FakeClock
from trading.model import Side

X = "X/USDT:USDT"
HOUR_MS = 3_600_000


def hourly_csv(path: Path, closes: list[str], volume: str = "10") -> Path:
    rows = [f"{i * HOUR_MS},{c},{c},{c},{c},{volume}" for i, c in enumerate(closes)]
    path.write_text("timestamp,open,high,low,close,volume\n" + "\n".join(rows) + "\n")
    return path


def test_csv_volume_is_the_last_24_hours_of_candles(tmp_path: Path) -> None:
    closes = [str(100 + i) for i in range(30)]
    src = CsvPriceSource(files={X: hourly_csv(tmp_path / "x.csv", closes)}, step_ms=1000,
                         epoch_ms=0)
    assert src.volume_24h(X, 0) == (D(10), D(1000))  # the first candle alone
    assert src.volume_24h(X, 5_500) == (D(60), D(10) * sum(D(100 + i) for i in range(6)))
    # candle 29: candles 6..29 lie in its 24 h (candle 5 is exactly 24 h older: left out)
    assert src.volume_24h(X, 29_000) == (D(240), D(10) * sum(D(100 + i) for i in range(6, 30)))
    assert src.volume_24h(X, 10**9) == src.volume_24h(X, 29_000)  # holds after the end
    assert src.volume_24h(X, -5_000) == src.volume_24h(X, 0)  # before the replay starts


def test_paper_ticker_reports_csv_volume_and_none_for_generated_prices(tmp_path: Path) -> None:
    clock = FakeClock(t=0.0)
    src = CsvPriceSource(files={X: hourly_csv(tmp_path / "x.csv", ["100"] * 30)}, step_ms=1000,
                         epoch_ms=0)
    ex = PaperExchange(store_path=tmp_path / "p.db", symbols=[X], price_source=src, clock=clock)
    try:
        clock.advance(23.5)
        ticker = ex.fetch_tickers([X])[X]
        assert (ticker.base_volume, ticker.quote_volume) == (D(240), D(24000))
    finally:
        ex.close()
    generated = PaperExchange(store_path=tmp_path / "g.db", symbols=[X],
                              price_source=GeneratorPriceSource(seed=1, epoch_ms=0), clock=clock)
    try:
        ticker = generated.fetch_tickers([X])[X]
        assert ticker.base_volume is None and ticker.quote_volume is None  # unknown, not 0
    finally:
        generated.close()


def run_feed(tmp_path: Path, min_volume: float) -> tuple[list[Tick], list[Side | None]]:
    """Hourly candles replayed one per second; the feed polls once a second and each tick
    goes to the strategy as the actor does (actors/symbol_actor.py: on_price)."""
    closes = ["100", "100.5"] * 15 + ["90"]  # a calm market, then a drop well below its mean
    clock = FakeClock(t=0.0)
    src = CsvPriceSource(files={X: hourly_csv(tmp_path / f"{min_volume}.csv", closes)},
                         step_ms=1000, epoch_ms=0)
    ex = PaperExchange(store_path=tmp_path / f"{min_volume}.db", symbols=[X], price_source=src,
                       clock=clock)
    ticks: list[Tick] = []
    feed = MarketFeed(exchange=ex, symbols=[X], deliver=lambda s, m: ticks.append(m) or True,
                      interval_s=1.0, own_prefix="t-", logger=logger, clock=clock,
                      fetch_fills=lambda since: [], prices=None)
    strategy = MeanReversion(window=20, entry_z=2.0, exit_z=0.5, min_volatility_pct=0.0,
                             min_volume=min_volume)
    signals = []
    try:
        for _ in closes:
            clock.advance(1)
            feed.poll_once()
            signal = strategy.on_price(ticks[-1].price, ticks[-1].volume, clock(), None)
            if signal is not None:
                signals.append(signal.side)
    finally:
        ex.close()
    return ticks, signals


def test_feed_passes_quote_volume_and_min_volume_lets_entries_through(tmp_path: Path) -> None:
    ticks, signals = run_feed(tmp_path, min_volume=10_000.0)
    assert ticks[-1].price == D("90") and ticks[-1].volume == D(10) * (
        D("90") + 11 * D("100") + 12 * D("100.5"))  # 24 candles of quote volume
    # min_volume 10,000 < ~24,000 USDT traded: the entry passes
    assert signals and set(signals) == {Side.LONG}
    _, blocked = run_feed(tmp_path, min_volume=1_000_000.0)
    assert blocked == []  # the same market below min_volume: filtered, as configured
