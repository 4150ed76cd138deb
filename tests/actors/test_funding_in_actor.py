"""Funding with real parts: a real SymbolActor (pykka, SQLite), the real ccxt gateway, the
Bybit and Binance emulators settling funding on the open position (rate x position value, the
wallet changing as on the venue) and the funding feed (actors/funding_feed.py) reading it. The
ledger's net then equals the wallet's change, fees and funding included; a payment read again
(an overlapping read, a restarted feed with nothing in memory) is booked once; a payment whose
actor was not there to take it is booked by the next read; the protections' totals see it."""

from __future__ import annotations

import time

from decimal import Decimal

import pytest
from loguru import logger

from actors.funding_feed import FundingFeed
from actors.messages import Timer
from protections.ledger_feed import LedgerTotals
from storage import queries, reports
from tests.actors.live_emulator import BTC, START, Live, live_long
from tests.support.waiting import wait_until

RATE = Decimal("0.0001")


class Kept:
    """Where the reads start, kept across feeds as the account's database keeps it
    (actors/funding_feed.py MetaCursor); the first feed reads from an hour back."""

    def __init__(self) -> None:
        self.since_ms: int | None = int((time.time() - 3600) * 1000)

    def load(self) -> int | None:
        return self.since_ms

    def save(self, since_ms: int) -> None:
        self.since_ms = since_ms


def feed_for(bot: Live, deliver=None, cursor: Kept | None = None) -> FundingFeed:
    """A feed as the account builds it, read by hand (`poll_once`), with the bot's clock."""
    return FundingFeed(exchange=bot.gateway, symbols=[BTC], deliver=deliver or bot.deliver,
                       logger=logger, interval_s=0, cursor=cursor or Kept())


def funding_rows() -> list:
    return [f for f in queries.fills(BTC) if f.client_order_id.startswith("funding-")]


def settled_in_ledger(bot: Live) -> bool:
    bot.ref.tell(Timer())  # Binance: the entry's fee is told late (trading/late_fees.py)
    bot.sync()
    return queries.ledger_net_pnl(BTC) == bot.book.balance - START


@pytest.mark.parametrize("venue", ["bybit", "binanceusdm"])
def test_the_ledger_equals_the_wallet_change_with_fees_and_funding(venue, tmp_path):
    with live_long(tmp_path, venue) as bot:
        wait_until(lambda: settled_in_ledger(bot), timeout=20, message="entry fee booked")
        (paid,) = bot.book.settle_funding(RATE)  # the long pays 0.0001 x its value
        assert paid.paid > 0
        kept = Kept()
        feed = feed_for(bot, cursor=kept)
        assert feed.poll_once() == 1
        assert feed.poll_once() == 0  # the overlapping read hands nothing twice
        wait_until(lambda: len(funding_rows()) == 1, timeout=10, message="funding booked")
        (row,) = funding_rows()
        assert Decimal(row.fee) == paid.paid and Decimal(row.amount) == 0
        assert row.position_id == queries.fills(BTC)[0].position_id  # the entry's position
        bot.book.settle_funding(-RATE)  # a negative rate: the long receives
        feed.poll_once()
        wait_until(lambda: len(funding_rows()) == 2, timeout=10, message="received booked")
        assert Decimal(funding_rows()[1].fee) == -paid.paid
        assert settled_in_ledger(bot)  # the ledger's net == the wallet's change
        # a restarted feed (nothing in memory) reads from where the last read started (15 min
        # before the read ahead of it): both payments again, each booked once
        assert feed_for(bot, cursor=kept).poll_once() == 2
        bot.sync()
        assert len(funding_rows()) == 2 and settled_in_ledger(bot)
        events = [e for e in queries.events(BTC) if e["type"] == "FundingBooked"]
        assert len(events) == 2 and events[0]["data"]["position_id"] == row.position_id


def test_a_payment_its_actor_could_not_take_is_booked_by_the_next_read(tmp_path):
    with live_long(tmp_path, "bybit") as bot:
        bot.book.settle_funding(RATE)
        refused: list[str] = []
        down = feed_for(bot, deliver=lambda symbol, message: refused.append(symbol) and False)
        assert down.poll_once() == 0 and refused == [BTC]  # killed between read and booking
        assert funding_rows() == []
        down.deliver = bot.deliver  # the actor runs again
        assert down.poll_once() == 1
        wait_until(lambda: len(funding_rows()) == 1, timeout=10, message="booked late")


def test_the_protections_totals_count_funding(tmp_path):
    with live_long(tmp_path, "bybit") as bot:
        wait_until(lambda: settled_in_ledger(bot), timeout=20, message="entry booked")
        totals = LedgerTotals(base=START)
        batch = reports.fills_after(0)
        totals.apply(batch.fills, [], now=1e9)
        before = totals.net
        (paid,) = bot.book.settle_funding(Decimal("0.01"))  # 1 % of the position's value
        feed_for(bot).poll_once()
        wait_until(lambda: len(funding_rows()) == 1, timeout=10, message="funding booked")
        batch = reports.fills_after(totals.last_fill_id)
        totals.apply(batch.fills, [], now=1e9)
        assert totals.net == before - paid.paid and totals.fees > paid.paid
        assert totals.wins == totals.losses == 0  # a payment is no trade
