"""The state machines as tables (trading/transitions.py): every legal row passes, everything
else raises IllegalTransition naming the transition; the spots that used to ignore an illegal
change silently now raise; the legitimate "nothing to do" cases stay explicit no-ops."""

from __future__ import annotations

import itertools
from dataclasses import replace
from decimal import Decimal as D

import pytest

from tests.trading.conftest import make_rules
from tests.trading.scenario import Scenario
from trading import lifecycle as lc
from trading.decide import SymbolCore
from trading.decision import Ctx
from trading.events import (
    OrderAccepted,
    OrderCanceled,
    OrderFailed,
    OrderFilled,
    PriceTicked,
    SignalRaised,
)
from trading.grid.context import GridCtx
from trading.grid.core import GridCore
from trading.grid.leg_exit import close_leg
from trading.grid.model import GridState
from trading.grid.rules import GridRules
from trading.model import OrderPurpose, OrderStatus, Phase, Side, SymbolState
from trading.orders import Order
from trading.rules import MarketRules
from trading.transitions import (
    LEG_TRANSITIONS,
    ORDER_TRANSITIONS,
    PHASE_TRANSITIONS,
    IllegalTransition,
    LegPhase,
    leg_change,
    order_change,
    phase_change,
)

SYM = "BTC/USDT:USDT"


def order(status: OrderStatus, purpose: OrderPurpose = OrderPurpose.STOP) -> Order:
    return Order(client_order_id="main-ab12-BTC-s7", purpose=purpose, side="sell", amount=D(1),
                 price=D(99), status=status)


def grid_rules() -> GridRules:
    return GridRules(symbol=SYM, account="acc", id_tag="t1",
                     market=MarketRules(amount_step=D("0.001"), price_tick=D("0.1"),
                                        min_amount=D("0.001"), min_cost=D(5)),
                     order_size_usdt=D(100), levels=3, step_pct=D(1), size_multiplier=D(2),
                     take_profit_pct=D("0.5"), stop_loss_pct=D(5), recalc_pct=D(2), leverage=5)


# -- the tables themselves --------------------------------------------------------------------
def test_every_legal_phase_change_is_accepted_and_every_other_raises():
    legal = 0
    for old, new in itertools.product(Phase, Phase):
        if (old, new) in PHASE_TRANSITIONS:
            assert phase_change(SYM, old, new) is new
            legal += 1
        else:
            with pytest.raises(IllegalTransition) as err:
                phase_change(SYM, old, new)
            assert str(err.value) == f"position {SYM}: {old.value} -> {new.value}"
    assert legal == len(PHASE_TRANSITIONS) == 8


def test_every_legal_order_status_change_is_accepted_and_every_other_raises():
    legal = 0
    for old, new in itertools.product(OrderStatus, OrderStatus):
        if (old, new) in ORDER_TRANSITIONS:
            assert order_change(order(old), new, exchange_id="x1").status is new
            legal += 1
        else:
            with pytest.raises(IllegalTransition) as err:
                order_change(order(old), new)
            assert str(err.value) == f"order main-ab12-BTC-s7: {old.value} -> {new.value}"
    assert legal == len(ORDER_TRANSITIONS) == 9
    finals = [s for s in OrderStatus if not s.live]
    assert not [row for row in ORDER_TRANSITIONS if row[0] in finals]  # final means final


def test_every_legal_leg_change_is_accepted_and_every_other_raises():
    for old, new in itertools.product(LegPhase, LegPhase):
        if (old, new) in LEG_TRANSITIONS:
            assert leg_change("BTC long", old, new) is new
        else:
            with pytest.raises(IllegalTransition, match=f"leg BTC long: {old} -> {new}"):
                leg_change("BTC long", old, new)


def test_the_documented_example_message():
    with pytest.raises(IllegalTransition) as err:
        order_change(order(OrderStatus.FILLED), OrderStatus.OPEN)
    assert f"{type(err.value).__name__}: {err.value}" == (
        "IllegalTransition: order main-ab12-BTC-s7: filled -> open")


# -- the spots that used to be silent ---------------------------------------------------------
def test_acceptance_of_an_order_in_a_final_state_raises_instead_of_being_ignored():
    # on_accepted used to return quietly for any status but pending (decide.py:260)
    core = SymbolCore(make_rules())
    state = SymbolState(symbol=SYM, phase=Phase.OPEN, orders=(order(OrderStatus.FILLED),))
    with pytest.raises(IllegalTransition, match="order main-ab12-BTC-s7: filled -> open"):
        core.decide(state, OrderAccepted(client_order_id="main-ab12-BTC-s7", exchange_id="x"), 1.0)


def test_a_failure_report_for_an_acknowledged_order_raises():
    # "never reached the exchange" contradicts an acknowledgement: a bug, not a state
    core = SymbolCore(make_rules())
    state = SymbolState(symbol=SYM, phase=Phase.OPEN, orders=(order(OrderStatus.OPEN),))
    with pytest.raises(IllegalTransition, match="open -> failed"):
        core.decide(state, OrderFailed(client_order_id="main-ab12-BTC-s7", error="x"), 1.0)


def test_start_close_when_not_open_raises_instead_of_returning_quietly():
    ctx = Ctx(rules=make_rules(), now=1.0)
    for phase in (Phase.FLAT, Phase.ENTERING, Phase.CLOSING):
        with pytest.raises(IllegalTransition, match=f"{phase.value} -> closing"):
            lc.start_close(SymbolState(symbol=SYM, phase=phase), "test", ctx)
    assert ctx.commands == []  # nothing was sent before the check


def test_closing_a_grid_leg_that_is_not_open_raises():
    ctx = GridCtx(rules=grid_rules(), now=1.0)
    with pytest.raises(IllegalTransition, match=f"leg {SYM} long: flat -> closed"):
        close_leg(GridState(symbol=SYM), Side.LONG, "test", ctx)
    closed_once = replace(GridState(symbol=SYM), reopen=(Side.LONG,))
    with pytest.raises(IllegalTransition, match="closed -> closed"):
        close_leg(closed_once, Side.LONG, "test", ctx)


# -- explicit "nothing to do" cases -----------------------------------------------------------
def opened() -> Scenario:
    sc = Scenario(SymbolCore(make_rules()))
    sc.send(PriceTicked(price=D(100)))
    sc.send(SignalRaised(side=Side.LONG))
    assert sc.state.phase is Phase.OPEN
    return sc


def test_repeated_acknowledgement_of_a_resting_order_changes_nothing():
    sc = opened()
    stop = sc.state.active_stop()
    before = sc.state
    d = sc.send(OrderAccepted(client_order_id=stop.client_order_id, exchange_id="other"))
    assert d.state == before and not d.changed
    assert d.state.active_stop().exchange_id == stop.exchange_id


@pytest.mark.parametrize("late", ["filled", "canceled", "accepted", "failed"])
def test_late_reports_for_a_final_order_change_nothing(late):
    sc = opened()
    entry = sc.placed[0].order  # filled: it left the live orders when it became final
    assert sc.state.order(entry.client_order_id) is None
    cid = entry.client_order_id
    event = {"filled": OrderFilled(client_order_id=cid, exchange_id="x", filled=entry.amount,
                                   average=D(100), fee=D("0.05")),
             "canceled": OrderCanceled(client_order_id=cid),
             "accepted": OrderAccepted(client_order_id=cid, exchange_id="x"),
             "failed": OrderFailed(client_order_id=cid, error="late")}[late]
    before = sc.state
    d = sc.send(event)
    assert d.state == before and not d.changed and not d.ledger


def test_grid_late_and_repeated_reports_change_nothing():
    core = GridCore(grid_rules())
    d = core.decide(GridState(symbol=SYM), PriceTicked(price=D(100)), 1.0)
    long_open = next(c.order for c in d.commands if c.order.leg is Side.LONG)
    filled = OrderFilled(client_order_id=long_open.client_order_id, exchange_id="x",
                         filled=long_open.amount, average=D(100), fee=D("0.01"))
    d = core.decide(d.state, filled, 2.0)
    stop = next(c.order for c in d.commands
                if getattr(c, "order", None) and c.order.purpose is OrderPurpose.STOP)
    accepted = OrderAccepted(client_order_id=stop.client_order_id, exchange_id="s1")
    d = core.decide(d.state, accepted, 3.0, maintain_after=False)
    again = core.decide(d.state, accepted, 4.0, maintain_after=False)
    assert again.state == d.state and not again.changed
    late = core.decide(d.state, filled, 5.0, maintain_after=False)  # the open order is final
    assert late.state == d.state and not late.changed
