"""The hedge-grid decision core, pure: every seed race bug is checked at the decision level
(reconciliation and unknown legs: test_grid_core_reconcile.py)."""

from __future__ import annotations

from decimal import Decimal as D
from pathlib import Path
from types import SimpleNamespace

from config.loader import load_settings
from exchange.records import VenueMarket
from runtime import wiring
from tests.trading.scenario import loop_for
from trading.commands import CancelOrder, Escalate
from trading.decision import Decision
from trading.events import (
    EntriesBlocked,
    OrderAccepted,
    OrderCanceled,
    OrderFailed,
    OrderFilled,
    PriceTicked,
)
from trading.grid.context import PlaceGridOrder
from trading.grid.core import GridCore
from trading.grid.model import GridKind, GridState
from trading.grid.rules import GridRules
from trading.model import OrderStatus, Side
from trading.rules import MarketRules

SYMBOL = "BTC/USDT:USDT"


def rules(**over) -> GridRules:
    base = dict(symbol=SYMBOL, account="acc", id_tag="t1",
                market=MarketRules(amount_step=D("0.001"), price_tick=D("0.1"),
                                   min_amount=D("0.001"), min_cost=D(5)),
                order_size_usdt=D(100), levels=3, step_pct=D(1), size_multiplier=D(2),
                take_profit_pct=D("0.5"), stop_loss_pct=D(5), recalc_pct=D(2), leverage=5,
                max_close_attempts=3)
    base.update(over)
    return GridRules(**base)


def core_from_config(tmp_path: Path, tail: str) -> GridCore:
    """The grid core as the runtime builds it (runtime/wiring.py) from a paper hedge-grid config
    file; `tail`: lines after its [risk] basics (more [risk] keys, or further sections)."""
    path = tmp_path / "config.toml"
    path.write_text(f"""
[bot]
mode = "paper"
account = "acc"
[exchange]
id = "paper"
hedge_mode = true
[symbols]
list = ["{SYMBOL}"]
[strategy]
name = "hedge_grid"
[risk]
order_size_usdt = 100
stop_loss_pct = 5
{tail}
""")
    market = VenueMarket(symbol=SYMBOL, swap=True, linear=True, amount_step=D("0.001"),
                         price_tick=D("0.1"), min_amount=D("0.001"), min_cost=D(5))
    # the paper exchange's facts: its market, and no send grace (in our process)
    exchange = SimpleNamespace(market=lambda symbol: market, send_grace_s=0.0)
    return wiring.grid_core_factory(load_settings(path), exchange, "t1")(SYMBOL)


class Book:
    """Drives the hedge-grid core through production's decision loop (actors/loop.py); the test
    plays the exchange: commands are collected, their answers are sent by the test."""

    def __init__(self, core: GridCore | None = None, **over) -> None:
        self.core = core or GridCore(rules(**over))
        self.now = 1000.0
        self.loop, self.repo = loop_for(self.core, GridState(symbol=SYMBOL), clock=lambda: self.now,
                                        execute=lambda command: [])
        self.commands: list = []
        self.journal: list = []
        self.ledger: list = []

    @property
    def state(self) -> GridState:
        return self.loop.state

    def send(self, event):
        self.now += 1
        start = len(self.repo.decisions)
        self.loop.apply(event)
        new = self.repo.decisions[start:]
        d = new[0] if new else Decision(state=self.loop.state)
        self.commands = list(d.commands)
        self.journal += [j.type for j in d.journal]
        self.ledger += list(d.ledger)
        return d

    def placed(self, kind: GridKind | None = None, leg: Side | None = None):
        return [c.order for c in self.commands if isinstance(c, PlaceGridOrder)
                and (kind is None or c.order.kind is kind) and (leg is None or c.order.leg is leg)]

    def cancels(self):
        return [c.client_order_id for c in self.commands if isinstance(c, CancelOrder)]

    def fill(self, order, price, amount=None, fee=D("0.01")):
        amount = order.amount if amount is None else amount
        return self.send(OrderFilled(client_order_id=order.client_order_id,
                                     exchange_id="x" + order.client_order_id,
                                     filled=amount, average=D(price), fee=fee))

    def accept(self, order):
        return self.send(OrderAccepted(client_order_id=order.client_order_id,
                                       exchange_id="x" + order.client_order_id))

    def open_both(self, price="100"):
        self.send(PriceTicked(price=D(price)))
        opens = {o.leg: o for o in self.placed(GridKind.OPEN)}
        self.fill(opens[Side.LONG], price)
        waiting = self.placed()
        self.fill(opens[Side.SHORT], price)
        waiting += self.placed()
        while waiting:  # the exchange acknowledges each order; levels follow their leg's stop
            self.accept(waiting.pop(0))
            waiting += self.placed()
        return opens


def test_flat_grid_opens_both_legs_with_a_margin_check_each():
    b = Book()
    b.send(PriceTicked(price=D(100)))
    opens = b.placed(GridKind.OPEN)
    assert {o.leg for o in opens} == {Side.LONG, Side.SHORT}
    assert all(o.amount == D("1") for o in opens)  # 100 USDT / 100
    margins = [c.margin for c in b.commands]
    assert margins == [D(20), D(20)]  # amount * price / leverage, one per order
    # write-ahead: both are in the committed state as pending before any is sent
    assert {o.client_order_id for o in b.state.orders} == {o.client_order_id for o in opens}


def test_open_fill_places_stop_take_profit_and_next_level():
    b = Book()
    b.send(PriceTicked(price=D(100)))
    long_open = b.placed(GridKind.OPEN, Side.LONG)[0]
    d = b.fill(long_open, "100")
    leg = d.state.long
    assert (leg.contracts, leg.entry_price, leg.stop_price, leg.ref_qty) == (
        D(1), D(100), D("95.0"), D(1))
    stop, tp = (b.placed(k, Side.LONG)[0] for k in (GridKind.STOP, GridKind.TP))
    assert b.placed(GridKind.ADD) == []  # no level before the leg's stop rests (issue 16 item 2)
    b.accept(stop)
    add = b.placed(GridKind.ADD, Side.LONG)[0]
    # the stop covers the leg and the level that may fill into it (rests while the bot is down)
    assert (stop.amount, stop.price) == (D(3), D("95.0"))
    assert (tp.amount, tp.price, tp.side) == (D(1), D("100.5"), "sell")
    assert (add.amount, add.price, add.level, add.side) == (D(2), D("99.0"), 1, "buy")  # ref * 2**1
    # incident 10: the take-profit's id is in the committed state before the exchange call
    assert d.state.order(tp.client_order_id).status is OrderStatus.PENDING
    assert [e.realized_pnl for e in b.ledger] == [D(0)]


def test_averaging_fill_moves_entry_and_replaces_stop_new_first_and_take_profit_old_first():
    b = Book()
    b.open_both()
    add = b.state.orders_of(Side.LONG, GridKind.ADD)[0]
    old_stop = b.state.orders_of(Side.LONG, GridKind.STOP)[0]
    old_tp = b.state.orders_of(Side.LONG, GridKind.TP)[0]
    b.fill(add, "99")
    leg = b.state.long
    assert leg.contracts == D(3) and leg.level == 1
    assert leg.entry_price == (D(100) + D(99) * 2) / 3
    assert leg.stop_price == D("95.0")  # the stop level is fixed beyond every grid level
    new_stop = b.placed(GridKind.STOP, Side.LONG)[0]
    # the leg's 3 and level 2's 4, which may fill into it
    assert (new_stop.amount, new_stop.replaces) == (D(7), old_stop.client_order_id)
    assert b.placed(GridKind.ADD) == []  # the next level waits until a stop covers all 3
    assert b.cancels() == [old_tp.client_order_id]  # the old stop stays until the new one rests
    # the old take-profit goes first (a venue may count it against the new one: Binance), the
    # new one once that cancel is answered (a failed one may leave the old resting)
    assert b.placed(GridKind.TP) == []
    b.send(OrderCanceled(client_order_id=old_tp.client_order_id))
    new_tp = b.placed(GridKind.TP, Side.LONG)[0]
    assert new_tp.replaces is None and new_tp.amount == D(3)
    b.accept(new_stop)
    assert b.cancels() == [old_stop.client_order_id]
    assert b.state.protected(Side.LONG)
    nxt = b.placed(GridKind.ADD, Side.LONG)[0]
    assert (nxt.level, nxt.amount, nxt.price) == (2, D(4), D("98.0"))  # from the last fill, 99


def test_take_profit_close_cancels_both_sides_pending_levels_and_reopens_only_after_confirmation():
    b = Book()
    b.open_both()
    tp = b.state.orders_of(Side.LONG, GridKind.TP)[0]
    long_stop = b.state.orders_of(Side.LONG, GridKind.STOP)[0]
    long_add = b.state.orders_of(Side.LONG, GridKind.ADD)[0]
    short_add = b.state.orders_of(Side.SHORT, GridKind.ADD)[0]
    short_stop = b.state.orders_of(Side.SHORT, GridKind.STOP)[0]
    b.fill(tp, "100.5")
    assert "LegClosed" in b.journal and not b.state.long.is_open
    # the long's stop stays while its level may still fill into a new long (it covers it)
    assert set(b.cancels()) == {long_add.client_order_id, short_add.client_order_id}
    assert short_stop.client_order_id not in b.cancels()  # the open short stays protected
    assert b.placed(GridKind.OPEN) == []
    b.send(OrderCanceled(client_order_id=long_add.client_order_id))
    assert b.cancels() == [long_stop.client_order_id]  # the level is gone: now the stop
    b.send(OrderCanceled(client_order_id=long_stop.client_order_id))
    b.send(PriceTicked(price=D("100.2")))
    assert b.placed(GridKind.OPEN) == []  # the short's level is not confirmed gone yet
    b.send(OrderCanceled(client_order_id=short_add.client_order_id))
    reopened = b.placed(GridKind.OPEN, Side.LONG)
    assert len(reopened) == 1 and reopened[0].amount == D(1)  # the side's reference quantity
    assert len(b.placed(GridKind.ADD, Side.SHORT)) == 1  # the short's level is placed again
    net = b.ledger[-1].realized_pnl
    assert net == D("0.5")


def test_an_orphan_that_fills_before_its_cancel_is_booked_and_the_reopen_waits_for_every_cancel():
    b = Book()
    b.open_both()
    tp = b.state.orders_of(Side.LONG, GridKind.TP)[0]
    short_add = b.state.orders_of(Side.SHORT, GridKind.ADD)[0]
    b.fill(tp, "100.5")
    b.fill(short_add, "101")  # it filled on the exchange before our cancel arrived
    assert b.state.short.contracts == D(3)
    assert b.ledger[-1].client_order_id == short_add.client_order_id
    confirmed = []
    while waiting := [o.client_order_id for o in b.state.orders
                      if o.cancel_requested_at is not None]:
        # the grown short's old take-profit (cancelled before its replacement), the closed
        # long's level, then its stop
        b.send(OrderCanceled(client_order_id=waiting[0]))
        confirmed.append(waiting[0])
        assert b.placed(GridKind.OPEN) == []  # never on the price the leg closed on
    assert [cid[-1] for cid in confirmed] == ["t", "a", "s"]
    b.send(PriceTicked(price=D("100.4")))
    assert [o.leg for o in b.placed(GridKind.OPEN)] == [Side.LONG]


def test_pending_level_is_recalculated_after_a_large_move():
    b = Book()
    b.open_both()
    add = b.state.orders_of(Side.SHORT, GridKind.ADD)[0]
    assert add.price == D("101.0")
    b.send(PriceTicked(price=D("98.5")))  # 1.5 %: below recalc_pct
    assert b.cancels() == []
    b.send(PriceTicked(price=D("97.5")))  # 2.5 % away from the short's anchor (100)
    assert add.client_order_id in b.cancels() and "LevelRecalculated" in b.journal
    b.send(PriceTicked(price=D("97.4")))
    assert b.placed(GridKind.ADD, Side.SHORT) == []  # not before the cancel is confirmed
    b.send(OrderCanceled(client_order_id=add.client_order_id))
    new = b.placed(GridKind.ADD, Side.SHORT)
    assert len(new) == 1 and new[0].price == D("98.5")  # 1 % above the new anchor 97.5


def test_reference_quantities_are_cleared_when_both_legs_are_flat():
    b = Book()
    b.open_both()
    for side in (Side.LONG, Side.SHORT):
        stop = b.state.orders_of(side, GridKind.STOP)[0]
        b.fill(stop, "95" if side is Side.LONG else "105")
    assert b.state.long.ref_qty is None and b.state.short.ref_qty is None
    assert "ReferenceQuantitiesCleared" in b.journal
    for o in list(b.state.orders):
        b.send(OrderCanceled(client_order_id=o.client_order_id))
    b.send(PriceTicked(price=D(50)))
    assert b.placed(GridKind.OPEN) == []  # stopped out: the cooldown runs first
    b.now += b.core.rules.reopen_after_stop_s
    b.send(PriceTicked(price=D(50)))
    assert {o.amount for o in b.placed(GridKind.OPEN)} == {D(2)}  # fresh: 100 USDT / 50


def test_close_failures_escalate_once_and_do_not_loop():
    b = Book(max_close_attempts=2)
    b.send(PriceTicked(price=D(100)))
    b.fill(b.placed(GridKind.OPEN, Side.LONG)[0], "100")
    stop = b.state.orders_of(Side.LONG, GridKind.STOP)[0]
    b.send(OrderFailed(client_order_id=stop.client_order_id, error="rejected"))
    escalations = 0
    closes = 0
    for _ in range(30):
        b.now += 100
        d = b.send(PriceTicked(price=D(90)))  # below the 95 stop, and no stop rests
        for c in d.commands:
            if isinstance(c, PlaceGridOrder) and c.order.kind is GridKind.CLOSE:
                closes += 1
                b.send(OrderFailed(client_order_id=c.order.client_order_id, error="boom"))
                escalations += sum(isinstance(x, Escalate) for x in b.commands)
            if isinstance(c, PlaceGridOrder) and c.order.kind is GridKind.STOP:
                b.send(OrderFailed(client_order_id=c.order.client_order_id, error="rejected"))
    assert closes == 2 and escalations == 1
    assert b.state.quarantined and b.state.long.contracts == D(1)  # never forgotten


def test_kill_switch_takes_pending_levels_off_and_opens_nothing():
    b = Book()
    b.open_both()
    adds = [o.client_order_id for o in b.state.orders if o.kind is GridKind.ADD]
    b.send(EntriesBlocked(blocked=True, reason="kill switch"))
    assert sorted(b.cancels()) == sorted(adds)
    tp = b.state.orders_of(Side.LONG, GridKind.TP)[0]
    b.fill(tp, "100.5")
    for o in list(b.state.orders):
        if o.cancel_requested_at is not None:
            b.send(OrderCanceled(client_order_id=o.client_order_id))
    b.send(PriceTicked(price=D(100)))
    assert b.placed(GridKind.OPEN) == [] and b.placed(GridKind.ADD) == []


def test_a_take_profit_filled_in_part_stays_for_the_rest_of_the_leg():
    # Found by review (live, Bybit emulator): the take-profit's original amount was compared
    # with the leg's size, so every partial fill placed a second take-profit for the rest and
    # cancelled the first (two creates and two cancels per partial fill, briefly two
    # reduce-only take-profits on the book). What still rests of it is what counts.
    b = Book()
    b.open_both()
    tp = b.state.orders_of(Side.LONG, GridKind.TP)[0]
    b.send(OrderFilled(client_order_id=tp.client_order_id, exchange_id="x" + tp.client_order_id,
                       filled=D("0.4"), average=D("100.5"), fee=D("0.01"), complete=False))
    assert b.state.long.contracts == D("0.6")
    assert b.placed(GridKind.TP) == [] and tp.client_order_id not in b.cancels()
    b.send(PriceTicked(price=D("100.3")))
    assert b.placed(GridKind.TP) == [] and tp.client_order_id not in b.cancels()
    assert [o.client_order_id for o in b.state.orders_of(Side.LONG, GridKind.TP)] == [
        tp.client_order_id]
    b.send(OrderFilled(client_order_id=tp.client_order_id, exchange_id="x" + tp.client_order_id,
                       filled=D("1"), average=D("100.5"), fee=D("0.02"), complete=True))
    assert not b.state.long.is_open and "LegClosed" in b.journal


def test_a_leg_its_stop_reduced_and_a_take_profit_ended_is_a_stop_out():
    """Found by a chaos review: the close reason came from the last fill alone, so a leg whose
    stop sold part of it (a level had filled past the stop's size while the bot was down) and
    whose take-profit then sold the rest was booked `take_profit` with a loss: the side reopened
    at once instead of after reopen_after_stop_s, and the stop-loss guard never counted it."""
    b = Book()
    b.open_both()
    stop = b.state.orders_of(Side.LONG, GridKind.STOP)[0]
    tp = b.state.orders_of(Side.LONG, GridKind.TP)[0]
    b.fill(stop, "95", amount=D("0.4"))
    assert b.state.long.is_open and b.state.long.stopped
    b.send(OrderCanceled(client_order_id=tp.client_order_id))  # replaced once cancelled
    rest = b.state.orders_of(Side.LONG, GridKind.TP)[-1]  # a take-profit for the rest, 0.6
    assert rest.client_order_id != tp.client_order_id and rest.amount == D("0.6")
    d = b.fill(rest, "100.5")
    [closed] = [j for j in d.journal if j.type == "LegClosed"]
    assert closed.reason == "stop_loss"
    assert b.state.next_open_at >= b.now + rules().reopen_after_stop_s  # the stop-out wait


def test_a_leg_only_its_take_profit_reduced_is_still_a_take_profit():
    b = Book()
    b.open_both()
    tp = b.state.orders_of(Side.LONG, GridKind.TP)[0]
    b.fill(tp, "100.5", amount=D("0.4"))
    assert not b.state.long.stopped
    rest = b.state.orders_of(Side.LONG, GridKind.TP)[-1]  # a take-profit for the rest, 0.6
    d = b.fill(rest, "100.5")
    [closed] = [j for j in d.journal if j.type == "LegClosed"]
    assert closed.reason == "take_profit"
    # the net a person reads in the journal is after fees (a fee added instead of taken off was
    # caught only by the speed-exactness hash, which names no figure)
    assert closed.fees > 0 and closed.realized_pnl > 0
    assert closed.net_pnl == closed.realized_pnl - closed.fees


def test_no_level_while_the_price_is_through_the_stop_or_past_the_level():
    """Found by a live soak: a drop took the price through a long's stop and the next level was
    placed 3.2 % above the market, a buy that filled at once into a leg being stopped out."""
    b = Book()
    b.open_both()
    b.fill(b.state.orders_of(Side.LONG, GridKind.ADD)[0], "99")  # level 1: the leg is 3
    new_stop = b.placed(GridKind.STOP, Side.LONG)[0]
    b.send(PriceTicked(price=D("94.5")))  # through the stop (95.0) before the new stop rests
    b.accept(new_stop)
    assert b.placed(GridKind.ADD) == []  # level 2 (98.0) would be 3.7 % above the market
    b.send(PriceTicked(price=D("97.5")))  # above the stop, still below the level's price
    assert b.placed(GridKind.ADD) == []
    b.send(PriceTicked(price=D("98.6")))  # the level rests below the market again
    [level] = b.placed(GridKind.ADD, Side.LONG)
    assert (level.level, level.price) == (2, D("98.0"))


def test_a_level_held_back_by_blocked_entries_is_no_longer_inside_the_stop():
    """The stop covers a level only while it rests or is about to: with entries blocked the
    cancelled level's share comes off the stop (it would rest larger than the position for as
    long as the block lasts)."""
    b = Book()
    b.open_both()
    [stop] = b.state.orders_of(Side.LONG, GridKind.STOP)
    [add] = b.state.orders_of(Side.LONG, GridKind.ADD)
    assert stop.amount == D(3)  # the leg's 1 and its level's 2
    b.send(EntriesBlocked(blocked=True, reason="kill switch"))
    assert add.client_order_id in b.cancels()
    b.send(OrderCanceled(client_order_id=add.client_order_id))
    [smaller] = b.placed(GridKind.STOP, Side.LONG)
    assert (smaller.amount, smaller.replaces) == (D(1), stop.client_order_id)
