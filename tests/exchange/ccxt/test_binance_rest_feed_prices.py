"""Binance's REST price feed reads the price ticker (`GET /fapi/v2/ticker/price`, weight 2),
not ticker/24hr for every symbol (weight 40, so at the default share a poll only every 4.5 s).
The 24 h quote volume (strategy.min_volume's) comes from ticker/24hr at most once a minute,
and never when nothing uses it; each price carries the last volume read. The real MarketFeed
and gateway (real ccxt.binanceusdm) against the Binance emulator, whose limiter counts the
venue's weights; the request log is the emulator's."""

from __future__ import annotations

from decimal import Decimal as D

import pytest
from loguru import logger

from actors.market_feed import MarketFeed
from actors.messages import Tick
from exchange import errors
from tests.exchange.ccxt.ccxt_fixtures import FakeTime, gateway_on_emulator, warning_lines
from tests.exchange.ccxt.emu_limits import BinanceWeightLimiter

BTC, ETH = "BTC/USDT:USDT", "ETH/USDT:USDT"
PRICES, DAY = "/fapi/v2/ticker/price", "/fapi/v1/ticker/24hr"


def feed_of(gw, told: list) -> MarketFeed:  # noqa: ANN001
    return MarketFeed(exchange=gw, symbols=[BTC, ETH], interval_s=1.0, own_prefix="t-",
                      deliver=lambda s, m: told.append((s, m)) or True, logger=logger,
                      fetch_fills=lambda since_ms: [])


def all_symbol(emu, path: str) -> list:  # noqa: ANN001
    return [r for r in emu.hits(path) if "symbol" not in r.params]


def test_each_poll_reads_prices_at_weight_2_and_volumes_once_a_minute(tmp_path):
    fake = FakeTime()
    limiter = BinanceWeightLimiter(clock=fake.clock)
    with gateway_on_emulator("binanceusdm", tmp_path, fake=fake, limiter=limiter,
                             rate_limit_per_s=None, volume_every_s=60.0) as (gw, emu):
        told: list = []
        feed = feed_of(gw, told)
        weight = limiter.weight_total
        for _ in range(3):
            feed.poll_once()
            fake.sleep(1.0)
        assert len(all_symbol(emu, PRICES)) == 3 and len(all_symbol(emu, DAY)) == 1
        assert limiter.weight_total - weight == 3 * 2 + 40
        ticks = [m for s, m in told if s == BTC]
        assert ticks == [Tick(price=D("50000"), volume=D("5000000"), sent_at=t.sent_at)
                         for t in ticks] and len(ticks) == 3
        emu.venue.book.prices["BTCUSDT"] = D("51000")  # the volume stays the one read
        feed.poll_once()
        assert told[-2][1].price == D("51000") and told[-2][1].volume == D("5000000")
        assert len(all_symbol(emu, DAY)) == 1
        fake.sleep(60.0)  # a minute after the volume read: read again
        feed.poll_once()
        assert len(all_symbol(emu, DAY)) == 2 and told[-2][1].volume == D("5100000")
        assert len(all_symbol(emu, PRICES)) == 5 and limiter.refused == 0


def test_without_min_volume_the_24h_ticker_is_never_read(tmp_path):
    fake = FakeTime()
    with gateway_on_emulator("binanceusdm", tmp_path, fake=fake, volume_every_s=None) as (
            gw, emu):
        told: list = []
        feed = feed_of(gw, told)
        for _ in range(3):
            feed.poll_once()
            fake.sleep(61.0)
        assert len(all_symbol(emu, PRICES)) == 3 and emu.hits(DAY) == []
        assert {(s, m.price, m.volume) for s, m in told} == {(BTC, D("50000"), None),
                                                              (ETH, D("3000"), None)}


def test_a_garbled_row_is_skipped_with_one_line_and_the_others_priced(tmp_path):
    fake = FakeTime()
    with gateway_on_emulator("binanceusdm", tmp_path, fake=fake, volume_every_s=None) as (
            gw, emu):
        lines, sink = warning_lines()
        try:
            emu.venue.book.prices["BNBUSDT"] = D("NaN")  # a market the bot does not trade
            told: list = []
            feed = feed_of(gw, told)
            for _ in range(2):
                feed.poll_once()
            assert {(s, m.price) for s, m in told} == {(BTC, D("50000")), (ETH, D("3000"))}
            assert len([line for line in lines if "BNB" in line]) == 1, lines
            emu.venue.book.prices["ETHUSDT"] = D("NaN")  # one it trades: unpriced, BTC goes
            told.clear()
            feed.poll_once()
            assert [(s, m.price) for s, m in told] == [(BTC, D("50000"))]
            assert len([line for line in lines if "ETH" in line]) == 2, lines  # skip + feed
            assert len(all_symbol(emu, PRICES)) == 3 and emu.hits(DAY) == []
        finally:
            logger.remove(sink)


def test_an_answer_without_a_readable_row_is_unreadable_not_no_prices(tmp_path):
    with gateway_on_emulator("binanceusdm", tmp_path, volume_every_s=None,
                             max_attempts=1) as (gw, emu):
        for native in list(emu.venue.book.prices):
            emu.venue.book.prices[native] = D("NaN")
        with pytest.raises(errors.TemporaryError, match="unreadable"):
            gw.fetch_tickers([BTC, ETH])
        emu.fail_next(PRICES, 1, body=[])
        with pytest.raises(errors.TemporaryError, match="unreadable"):
            gw.fetch_tickers([BTC, ETH])


def test_a_failed_volume_read_keeps_the_last_volumes_the_first_leaves_them_unknown(tmp_path):
    """The first volume read failing failed the whole call before: no REST price at all (for
    stops and exits too) for as long as the 24 h ticker failed. Now the prices go out with
    the volumes unknown (NaN: min_volume lets no entry through), read again a period later."""
    fake = FakeTime()
    with gateway_on_emulator("binanceusdm", tmp_path, fake=fake, volume_every_s=60.0,
                             max_attempts=1) as (gw, emu):
        emu.fail_next(DAY, 1, status=500, body="down")
        first = gw.fetch_tickers([BTC, ETH])
        assert first[BTC].last == D("50000") and first[BTC].quote_volume.is_nan()
        assert gw.fetch_tickers([BTC, ETH])[BTC].quote_volume.is_nan()  # not asked again yet
        assert len(emu.hits(DAY)) == 1
        fake.sleep(60.0)
        assert gw.fetch_tickers([BTC, ETH])[BTC].quote_volume == D("5000000")
        fake.sleep(60.0)
        emu.venue.book.prices["BTCUSDT"] = D("51000")
        emu.fail_next(DAY, 1, status=500, body="down")
        lines, sink = warning_lines()
        try:
            tickers = gw.fetch_tickers([BTC, ETH])
        finally:
            logger.remove(sink)
        assert (tickers[BTC].last, tickers[BTC].quote_volume) == (D("51000"), D("5000000"))
        assert len([line for line in lines if "24 h volumes" in line]) == 1, lines
        assert len(emu.hits(DAY)) == 3  # tried again only a minute later
        gw.fetch_tickers([BTC, ETH])
        assert len(emu.hits(DAY)) == 3


def test_a_reconciliations_one_symbol_price_is_its_own_24h_ticker(tmp_path):
    with gateway_on_emulator("binanceusdm", tmp_path) as (gw, emu):
        assert gw.fetch_tickers([BTC])[BTC].last == D("50000")
        assert [r.params.get("symbol") for r in emu.hits(DAY)] == ["BTCUSDT"]
        assert emu.hits(PRICES) == []


@pytest.mark.parametrize("mode,min_volume,every", [("live", 0, None), ("live", 1000, 60.0),
                                                   ("dry-run", 1000, 60.0), ("dry-run", 0, None)])
def test_an_account_reads_volumes_only_when_min_volume_uses_them(tmp_path, mode, min_volume,
                                                                 every):
    """An account with strategy.min_volume = 0 (the shipped config) never reads ticker/24hr for
    the feed; with it on, live and dry-run alike read it (a dry run's paper exchange is priced
    with the volumes its live source read, exchange/ccxt/tickers.py)."""
    from config.loader import load_settings
    from exchange.ccxt.factory import gateway_from_settings
    from runtime.exchanges import gateway_fields
    from tests.e2e.bot_process import write_config
    from tests.exchange.ccxt.ccxt_fixtures import factory_for, start_emulator

    config = write_config(tmp_path / "c.toml", [BTC, ETH], bot={"mode": mode},
                          exchange={"id": "binanceusdm"}, strategy={"min_volume": min_volume})
    emu = start_emulator("binanceusdm")
    try:
        gw = gateway_from_settings(gateway_fields(load_settings(config), tmp_path, keys=False),
                                   exchange_factory=factory_for("binanceusdm", emu))
        assert gw.tickers.volume_every_s == every
        gw.fetch_tickers([BTC, ETH])
        assert len(all_symbol(emu, DAY)) == (0 if every is None else 1)
        gw.close()
    finally:
        emu.stop()


def test_a_symbol_whose_volume_row_is_unreadable_gets_a_volume_that_filters(tmp_path):
    """Found by the review of this change: a traded symbol whose ticker/24hr row tells no quote
    volume (missing, or a row ccxt cannot read) got prices with no volume, and a missing volume
    passes the min_volume filter (strategies/mean_reversion.py: None means "not asked"). Before
    this feed the symbol got no price at all. While volumes are read, a symbol without one now
    carries NaN, which the filter counts as not enough (entries wait for a readable volume);
    its price is still delivered (stops and exits need it)."""
    fake = FakeTime()
    with gateway_on_emulator("binanceusdm", tmp_path, fake=fake, volume_every_s=60.0) as (gw,
                                                                                         emu):
        _, rows = emu.venue.get_fapi_v1_ticker_24hr({})
        for row in rows:
            if row["symbol"] == "BTCUSDT":
                del row["quoteVolume"]
        emu.fail_next(DAY, 1, body=rows)
        tickers = gw.fetch_tickers([BTC, ETH])
        assert tickers[BTC].last == D("50000") and tickers[ETH].quote_volume == D("300000")
        volume = tickers[BTC].quote_volume
        assert volume is not None and volume.is_nan(), volume


@pytest.mark.parametrize("body", [{}, [None], "<html><body>Please wait...</body></html>", ""])
def test_a_24h_answer_that_cannot_be_read_leaves_the_volumes_unknown_not_the_prices(tmp_path,
                                                                                   body):
    """The 24 h ticker is read for the volumes alone: an answer of it that cannot be read (an
    object for the list, a null row, no JSON) is a failed volume read, said in one line; the
    prices still go out, their volumes unknown (no entry passes min_volume)."""
    with gateway_on_emulator("binanceusdm", tmp_path, volume_every_s=60.0,
                             max_attempts=1) as (gw, emu):
        emu.fail_next(DAY, 1, body=body)
        lines, sink = warning_lines()
        try:
            tickers = gw.fetch_tickers([BTC, ETH])
        finally:
            logger.remove(sink)
        assert tickers[BTC].last == D("50000") and tickers[BTC].quote_volume.is_nan()
        assert len([line for line in lines if "24 h volumes" in line]) == 1, lines


def test_a_dry_runs_paper_exchange_carries_the_live_volume_to_the_strategy(tmp_path):
    """Found while reading the feed change: a dry run's paper exchange is priced by the live
    price source, which kept prices only, so every paper ticker came without a 24 h volume and
    strategy.min_volume was never applied in dry-run mode (None: the filter off). The source
    now keeps the volumes the venue's tickers carry, for the paper tickers to carry them."""
    from exchange.ccxt.tickers import LiveTickerSource
    from exchange.records import VenueTicker

    class Venue:
        def fetch_tickers(self, symbols=None):  # noqa: ANN001, ANN202
            return {BTC: VenueTicker(symbol=BTC, last=D("50000"), quote_volume=D("123456")),
                    ETH: VenueTicker(symbol=ETH, last=D("3000"))}

    source = LiveTickerSource(Venue(), [BTC, ETH])
    source.poll_once()
    assert source.volume_24h(BTC, 0) == (None, D("123456"))
    assert source.volume_24h(ETH, 0) is None  # none told: none made up
    # what the paper exchange's tickers carry (exchange/paper/queries.py `_volumes` asks the
    # price source's volume_24h, as it does of recorded candles)
