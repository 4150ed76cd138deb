"""Fills found together are booked in the order they happened on the exchange, not in the
order our orders were created (trading/evidence.py `in_fill_order`), and a batch of new fills
reaches the actor with its order ids in fill order (actors/trade_ids.py `FillBatch`).

Seen in a chaos run: while the bot was down a short leg's take-profit filled, then the next
level's add, then the leg's old stop closed the new leg. Booked in creation order (stop, then
take-profit, then add) the bot kept a short leg the exchange no longer had, alerted every
reconcile and was never reconciled again."""

from __future__ import annotations

from decimal import Decimal as D

from actors.trade_ids import FillBatch
from tests.trading.test_grid_core import Book
from trading.events import ExchangeOrder, ExchangePosition
from trading.grid.events import GridReconciled
from trading.grid.model import GridKind
from trading.model import Side


def _found(o, filled, average, at, status="closed") -> ExchangeOrder:
    return ExchangeOrder(client_order_id=o.client_order_id, exchange_id="x" + o.client_order_id,
                         status=status, filled=D(filled), average=D(average), fee=D("0.01"),
                         last_fill_at=at)


def _while_down(b: Book, *, times: tuple[int | None, int | None, int | None]) -> GridReconciled:
    """The short leg (1 @ 100) while the bot was down: its take-profit filled (flat), the
    level's add filled (short 2 @ 101), its stop filled 2 (flat). The long leg untouched."""
    stop = b.state.orders_of(Side.SHORT, GridKind.STOP)[0]
    tp = b.state.orders_of(Side.SHORT, GridKind.TP)[0]
    add = b.state.orders_of(Side.SHORT, GridKind.ADD)[0]
    orders = {o.client_order_id: ExchangeOrder(
        client_order_id=o.client_order_id, exchange_id=o.exchange_id, status="open",
        filled=D(0), average=None, fee=D(0)) for o in b.state.orders}
    orders.update({tp.client_order_id: _found(tp, "1", "99.5", times[0]),
                   add.client_order_id: _found(add, "2", "101", times[1]),
                   stop.client_order_id: _found(stop, "2", "105", times[2])})
    return GridReconciled(
        positions={Side.LONG: ExchangePosition(side=Side.LONG, contracts=D(1),
                                               entry_price=D(100))},
        orders=orders, external_fills=(), price=D(104))


def test_fills_found_after_a_restart_are_booked_in_the_order_they_happened():
    b = Book()
    b.open_both()
    listed = [o.client_order_id for o in b.state.orders]
    b.send(_while_down(b, times=(1_000, 2_000, 3_000)))
    assert not b.state.leg(Side.SHORT).is_open
    assert "LegCloseUnconfirmed" not in b.journal and "FillExceedsLeg" not in b.journal
    assert b.journal.count("LegClosed") == 2  # the first leg by its take-profit, then the add's
    assert b.state.leg(Side.LONG).is_open
    assert [o.client_order_id for o in b.state.orders if o.client_order_id in listed] == [
        o for o in listed if b.state.order(o) is not None]  # nothing reordered in the state


def test_without_fill_times_the_level_behind_an_oversized_stop_fill_is_booked_first():
    """A venue that gives no fill time: nothing to sort by, so the listed (creation) order
    would book the stop's fill of 2 against a leg of 1. Since 67f0309 a reducing fill larger
    than its leg, with that leg's level found filled at a price, books the level first: the
    leg ends flat as on the exchange, with the same realized P&L as in the real order (take
    profit +0.5, then the add's 2 stopped at 105: -8), and nothing left unconfirmed. (Before,
    the contradiction was kept and alerted until a person looked.)"""
    b = Book()
    b.open_both()
    b.send(_while_down(b, times=(1_000, None, 3_000)))
    assert not b.state.leg(Side.SHORT).is_open
    assert "LegCloseUnconfirmed" not in b.journal and "FillExceedsLeg" not in b.journal
    short = [e for e in b.ledger if e.position_id == b.ledger[-1].position_id]
    assert sum(e.realized_pnl for e in short) == D("-7.5")
    assert b.state.leg(Side.LONG).is_open


def test_a_fill_batch_lists_each_symbols_orders_by_their_last_fill():
    batch = FillBatch()
    for symbol, cid in [("ETH", "p-ETH-24a"), ("BTC", "p-BTC-99s"), ("ETH", "p-ETH-100t"),
                        ("ETH", "p-ETH-21s"), ("ETH", "p-ETH-24a"), ("ETH", "manual-1")]:
        batch.add(symbol, cid, "p-")
    assert batch.ids("ETH") == ("p-ETH-100t", "p-ETH-21s", "p-ETH-24a")
    assert batch.ids("BTC") == ("p-BTC-99s",)
    assert batch.symbols() == ["BTC", "ETH"] and batch.unknown == {"ETH"}
