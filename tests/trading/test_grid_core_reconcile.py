"""The hedge-grid decision core, pure: reconciliation (a take-profit it finds filled, orphans,
unknown legs adopted or flagged; split from test_grid_core.py by topic)."""

from __future__ import annotations

from decimal import Decimal as D

from tests.trading.test_grid_core import Book, core_from_config
from trading.commands import CancelOrder
from trading.events import (
    ExchangeOrder,
    ExchangePosition,
    OrderFailed,
    PriceTicked,
)
from trading.grid.events import GridReconciled
from trading.grid.model import GridKind
from trading.model import Side


def test_take_profit_fill_seen_by_reconciliation_is_booked_once():
    b = Book()
    b.open_both()
    tp = b.state.orders_of(Side.LONG, GridKind.TP)[0]
    snap = GridReconciled(
        positions={Side.SHORT: ExchangePosition(side=Side.SHORT, contracts=D(1),
                                                entry_price=D(100))},
        orders={o.client_order_id: ExchangeOrder(client_order_id=o.client_order_id,
                                                 exchange_id=o.exchange_id, status="open",
                                                 filled=D(0), average=None, fee=D(0))
                for o in b.state.orders},
        price=D("100.5"))
    snap.orders[tp.client_order_id] = ExchangeOrder(
        client_order_id=tp.client_order_id, exchange_id=tp.exchange_id, status="closed",
        filled=D(1), average=D("100.5"), fee=D("0.01"))
    b.send(snap)
    assert b.journal.count("LegClosed") == 1
    booked = len(b.ledger)
    b.fill(tp, "100.5")  # the same fill reported again afterwards
    assert len(b.ledger) == booked and b.journal.count("LegClosed") == 1


def test_reconciliation_cancels_orphans_and_adopts_an_unknown_leg():
    b = Book()
    b.send(PriceTicked(price=D(100)))
    for o in b.placed(GridKind.OPEN):
        b.send(OrderFailed(client_order_id=o.client_order_id, error="insufficient balance"))
    orphan = ExchangeOrder(client_order_id="acc-t1-x-9a", exchange_id="e9", status="open",
                           filled=D(0), average=None, fee=D(0))
    b.send(GridReconciled(positions={Side.LONG: ExchangePosition(side=Side.LONG, contracts=D(2),
                                                                 entry_price=D(100))},
                          orphans=(orphan,), price=D(100)))
    assert "e9" in [c.exchange_id for c in b.commands if isinstance(c, CancelOrder)]
    assert b.state.long.contracts == D(2) and "LegAdopted" in b.journal
    # the leg + level 1, of the grid's own size (ref 1 from 100 USDT at 100, not the leg's 2)
    assert b.placed(GridKind.STOP, Side.LONG)[0].amount == D(2) + D(2)


def test_an_unknown_leg_is_flagged_not_adopted_when_configured(tmp_path):
    """adopt_unknown_positions = false holds for the hedge grid too: a leg nobody here opened
    was adopted anyway, given a stop and a take-profit, and averaged into at the grid's levels.
    Now it is flagged (the symbol quarantined, nothing placed) and its reduce-only stop (its
    owner's) stays; an order that could open a position is still cancelled."""
    b = Book(core_from_config(tmp_path, "[supervision]\nadopt_unknown_positions = false"))
    b.send(PriceTicked(price=D(100)))
    for o in b.placed(GridKind.OPEN):
        b.send(OrderFailed(client_order_id=o.client_order_id, error="insufficient balance"))
    stop = ExchangeOrder(client_order_id="web-stop", exchange_id="s9", status="open", filled=D(0),
                         average=None, fee=D(0), reduce_only=True)
    buy = ExchangeOrder(client_order_id="web-buy", exchange_id="b9", status="open", filled=D(0),
                        average=None, fee=D(0))
    b.send(GridReconciled(positions={Side.LONG: ExchangePosition(side=Side.LONG, contracts=D(2),
                                                                 entry_price=D(100))},
                          orphans=(stop, buy), price=D(100)))
    assert b.state.quarantined and not b.state.long.is_open
    assert "LegAdopted" not in b.journal and "UnknownPositionFlagged" in b.journal
    assert not b.placed()
    assert [c.exchange_id for c in b.commands if isinstance(c, CancelOrder)] == ["b9"]
    b.send(PriceTicked(price=D(99)))
    assert not b.placed()


def test_an_unknown_leg_is_flagged_once_not_at_every_reconciliation(tmp_path):
    """Found by review: the flag was journaled again at every reconciliation (a row every 30 s
    for as long as a person took to look)."""
    b = Book(core_from_config(tmp_path, "[supervision]\nadopt_unknown_positions = false"))
    b.send(PriceTicked(price=D(100)))
    for o in b.placed(GridKind.OPEN):
        b.send(OrderFailed(client_order_id=o.client_order_id, error="insufficient balance"))
    listed = {Side.LONG: ExchangePosition(side=Side.LONG, contracts=D(2), entry_price=D(100))}
    for _ in range(3):
        b.send(GridReconciled(positions=listed, price=D(100)))
    assert b.state.quarantined and b.journal.count("UnknownPositionFlagged") == 1


def test_a_bare_legs_reduce_only_limit_by_hand_goes_its_stop_by_hand_stays():
    """An adopted leg whose own stop is only sent: the owner's reduce-only stop stays as its
    protection until ours rests, but a reduce-only limit by hand (a take-profit, no trigger)
    protects nothing and goes (rule 9), as in the emergency close and the one-way core (on
    Binance it refuses the bot's close of the leg, -4118, until the symbol escalates:
    tests/actors/test_one_way_binance_closers.py)."""
    b = Book()
    b.send(PriceTicked(price=D(100)))
    for o in b.placed(GridKind.OPEN):
        b.send(OrderFailed(client_order_id=o.client_order_id, error="insufficient balance"))
    stop = ExchangeOrder(client_order_id="web-stop", exchange_id="s9", status="open", filled=D(0),
                         average=None, fee=D(0), reduce_only=True, trigger_price=D(90))
    tp = ExchangeOrder(client_order_id="web-tp", exchange_id="t9", status="open", filled=D(0),
                       average=None, fee=D(0), reduce_only=True)
    b.send(GridReconciled(positions={Side.LONG: ExchangePosition(side=Side.LONG, contracts=D(2),
                                                                 entry_price=D(100))},
                          orphans=(stop, tp), price=D(100)))
    assert "LegAdopted" in b.journal and b.placed(GridKind.STOP, Side.LONG)
    cancelled = [c.exchange_id for c in b.commands if isinstance(c, CancelOrder)]
    assert "t9" in cancelled and "s9" not in cancelled
