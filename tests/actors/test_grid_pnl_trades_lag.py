"""The exchange's realized P&L of a grid order's fill, read from the order's trades
(actors/fill_pnl.py), while the venue's trade list lags its order state: Binance's userTrades
lists a fill a second or more after the order reads filled (the user data stream tells at
once), Bybit's execution list likewise. The trades listed so far were summed as the P&L of the
whole fill: an order filled in two trades, one listed, was booked with half its P&L, and as the
order then ended, the rest was never booked (the ledger no longer equal to the exchange's).
Such a sum is no answer: the core computes the P&L from the leg's entry, as for a venue that
reports none; the fee's check is the same (exchange/ccxt/lookup.py `with_trade_fees`)."""

from __future__ import annotations

from decimal import Decimal as D
from typing import Any

from loguru import logger

from actors import grid_snapshot
from exchange.records import VenueFill
from tests.trading.test_grid_core import Book
from trading.events import ExchangeOrder, OrderFilled
from trading.grid.model import GridKind
from trading.model import Side


class Trades:
    """A port answering fetch_my_trades with the trades listed so far."""

    def __init__(self, fills: list[VenueFill]) -> None:
        self.fills = fills

    def fetch_my_trades(self, symbol: Any = None, since: Any = None, *args: Any) -> list[VenueFill]:
        return list(self.fills)


def trade(tid: str, cid: str, amount: str, pnl: str) -> VenueFill:
    return VenueFill(id=tid, order_id="x" + cid, client_order_id=cid, symbol="BTC/USDT:USDT",
                     side="sell", price=D("100.5"), amount=D(amount), realized_pnl=D(pnl))


def _take_profit():
    b = Book()
    b.open_both()
    (tp,) = b.state.orders_of(Side.LONG, GridKind.TP)
    return b, tp


def test_a_fill_whose_trades_are_not_all_listed_yet_carries_no_exchange_pnl():
    b, tp = _take_profit()
    cid = tp.client_order_id
    filled = OrderFilled(client_order_id=cid, exchange_id="x" + cid, filled=tp.amount,
                         average=D("100.5"), fee=D("0.01"))
    half = tp.amount / 2
    listed = [trade("t1", cid, str(half), "0.25")]  # the second trade not listed yet
    event = grid_snapshot.with_exchange_pnl(Trades(listed), b.state, filled, logger)
    assert event.realized_pnl is None  # the core computes it (not the half listed)
    both = listed + [trade("t2", cid, str(half), "0.25")]
    event = grid_snapshot.with_exchange_pnl(Trades(both), b.state, filled, logger)
    assert event.realized_pnl == D("0.5")


def test_the_reconciliations_pnl_of_a_fill_waits_for_all_its_trades_too():
    b, tp = _take_profit()
    cid = tp.client_order_id
    found = ExchangeOrder(client_order_id=cid, exchange_id="x" + cid, status="closed",
                          filled=tp.amount, average=D("100.5"), fee=D("0.01"))
    half = tp.amount / 2
    listed = [trade("t1", cid, str(half), "0.25")]
    assert grid_snapshot._with_pnl(b.state, cid, found, listed).realized_pnl is None
    both = listed + [trade("t2", cid, str(half), "0.25")]
    assert grid_snapshot._with_pnl(b.state, cid, found, both).realized_pnl == D("0.5")


def test_the_exchange_pnl_of_a_fill_sums_its_own_orders_trades_only():
    """The trade list read for the order's P&L holds every trade of the symbol since the order
    was created (the other leg's take-profit, a level's fill, a close by hand): only the trades
    of this order's client id make its P&L. Summed whole, the fill was booked with another
    order's P&L on top (here 0.5 + 7)."""
    b, tp = _take_profit()
    cid = tp.client_order_id
    filled = OrderFilled(client_order_id=cid, exchange_id="x" + cid, filled=tp.amount,
                         average=D("100.5"), fee=D("0.01"))
    others = [trade("t0", "other-order", "1", "7")]
    mine = [trade("t1", cid, str(tp.amount), "0.5")]
    event = grid_snapshot.with_exchange_pnl(Trades(others + mine), b.state, filled, logger)
    assert event.realized_pnl == D("0.5")
