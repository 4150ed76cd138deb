"""An entry's stop must not wait for the entry's fee read (INCIDENTS rule 5: a position is
protected at once). On Binance USDⓈ-M the fee is only in the order's trades (userTrades,
weight 5); read inside create_order it held the entry's answer, and so the stop, until the read
had passed the IP weight budget (a soak: p90 entry -> stop 2.9 s, worst 11.6 s). Now the stop
reaches the venue before any trade read, and a reconciliation's late-fee look books the fee:
the ledger equals the wallet's change, each fee read once.

A real SymbolActor (pykka thread, SQLite), the real ccxt gateway, the Binance emulator; the
emulator's recorded requests, in the order they arrived, are the proof."""

from __future__ import annotations

from decimal import Decimal

from storage import queries
from tests.actors.live_emulator import BTC, START, live_long

TRADES = "/fapi/v1/userTrades"
STOPS = "/fapi/v1/algoOrder"


def test_the_stop_reaches_the_venue_before_the_entry_fee_is_read_then_it_is_booked(tmp_path):
    with live_long(tmp_path, "binanceusdm") as bot:
        (stop,) = bot.stops()
        (entry,) = [o for o in bot.book.orders.values() if o.trigger is None]
        calls = [(r.method, r.path) for r in bot.emu.requests]
        placed = calls.index(("POST", STOPS))
        assert [i for i, call in enumerate(calls) if call == ("GET", TRADES) and i < placed] == []
        bot.reconcile(1)  # the late-fee look (the heartbeat's Timer asks for it when due)
        assert queries.ledger_net_pnl(BTC) == bot.book.balance - START
        fees = sum((Decimal(f.fee) for f in queries.fills(BTC)), Decimal(0))
        assert fees == bot.book.fees_of(entry) > 0
        assert [r.params["orderId"] for r in bot.emu.hits(TRADES)] == [entry.oid]  # read once
        assert [e["data"]["order"] for e in queries.events(BTC, "FeeBookedLate")] == [entry.cid]
        assert bot.view().protected and [o.oid for o in bot.stops()] == [stop.oid]


def test_the_late_fee_look_reads_the_owed_order_alone(tmp_path):
    """Found by a live soak: the heartbeat's late-fee look ran a whole reconciliation (position,
    every live order, open orders, algo orders, trades, a price: ~12-15 requests) for every
    Binance order whose create did not tell its fee, and held the actor meanwhile; a removed
    stop's cancel report waited behind it for up to 19 s. The look reads the owed order alone."""
    from actors.messages import Reconcile
    from actors.reconcile_retry import FEE_UNKNOWN

    with live_long(tmp_path, "binanceusdm") as bot:
        (entry,) = [o for o in bot.book.orders.values() if o.trigger is None]
        bot.emu.clear()
        bot.ref.tell(Reconcile(reason=FEE_UNKNOWN))  # what the Timer sends itself when due
        bot.sync()
        paths = sorted({r.path for r in bot.emu.requests})
        assert paths == ["/fapi/v1/order", TRADES], paths  # the order and its trades: no more
        assert [e["data"]["order"] for e in queries.events(BTC, "FeeBookedLate")] == [entry.cid]
        assert queries.ledger_net_pnl(BTC) == bot.book.balance - START
        assert bot.view().protected and bot.view().reconciled
