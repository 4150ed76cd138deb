"""Bybit's /v5/execution/list answers at most seven days from its startTime. The funding feed's
first read after a long downtime started at the stored cursor: finding no payment in that first
week it moved its start to now - 15 min, and every payment settled between day 7 and now was
never booked (the ledger short of the wallet's funding). The read walks the gap a week at a
time (bounded), as the own-trade reads do. Real gateway, real ccxt bybit class, the Bybit
emulator keeping the venue's window, the real FundingFeed."""

from __future__ import annotations

from decimal import Decimal as D

from loguru import logger

from actors.funding_feed import FundingFeed, FundingPaid
from tests.exchange.ccxt.ccxt_fixtures import FakeTime, make_gateway, start_emulator
from tests.exchange.ccxt.test_funding_history import Kept

BTC = "BTC/USDT:USDT"
DAY_MS = 86_400_000


def test_bybit_a_payment_ten_days_after_the_cursor_is_handed_over(tmp_path):
    emu = start_emulator("bybit")
    try:
        book = emu.venue.book
        book.place(cid="long-1", symbol="BTCUSDT", side="buy", type="market", qty=D("0.01"),
                   price=None, trigger=None, trigger_direction=None, reduce_only=False)
        since = book.now_ms
        book.now_ms += 10 * DAY_MS  # the bot was down ten days
        paid = book.settle_funding(D("0.0001"))
        clock = FakeTime(book.now_ms / 1000 + 60)
        gw = make_gateway("bybit", emu, tmp_path, fake=clock)
        gw.load_markets()
        handed: list[str] = []

        def deliver(symbol: str, message: FundingPaid) -> bool:
            handed.extend(p.record_id for p in message.payments)
            return True

        cursor = Kept(since)
        feed = FundingFeed(exchange=gw, symbols=[BTC], deliver=deliver, logger=logger,
                           interval_s=0, cursor=cursor, clock=clock.clock)
        feed.poll_once()
        assert handed == [f"f{f.fid}-BTCUSDT" for f in paid]
        windows = [(int(h.params["startTime"]), h.params.get("endTime"))
                   for h in emu.hits("/v5/execution/list")
                   if h.params.get("execType") == "Funding"]
        assert all(end is None or int(end) - start <= 7 * DAY_MS for start, end in windows)
        gw.close()
    finally:
        emu.stop()
