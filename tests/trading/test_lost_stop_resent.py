"""A stop that never reached the venue (its intent committed, the send's answer never read:
a kill -9 before it came, a timeout, and a lookup by client id then finds no such order) is
placed again at once, under a new client order id: nothing was wrong with it. It used to be
taken for a stop the venue refused and wait `stop_retry_s` (2 s) with the position bare (found
by a helper's crash test, tests/e2e/test_first_read_after_a_kill.py's setup). A venue that
keeps swallowing stops still backs off as refusals do: no loop. A refused stop keeps its wait."""

from __future__ import annotations

from decimal import Decimal as D

from tests.trading.conftest import make_rules
from tests.trading.test_rejected_stop import _opened
from trading.commands import PlaceOrder
from trading.decide import SymbolCore
from trading.events import (
    ExchangePosition,
    OrderAccepted,
    OrderFailed,
    PriceTicked,
    Reconciled,
    TimerFired,
)
from trading.model import OrderPurpose, Phase, Side

LOST = "RequestTimeout: no answer"


def _stops(decision) -> list:
    return [c.order for c in decision.commands
            if isinstance(c, PlaceOrder) and c.order.purpose is OrderPurpose.STOP]


def _restart_reconcile(core: SymbolCore, state, stop, now: float):
    """The restart's reconciliation: the position is listed, the stop's lookup finds nothing."""
    held = ExchangePosition(side=Side.LONG, contracts=stop.amount, entry_price=D("100"))
    return core.decide(state, Reconciled(position=held, orders={}, price=D("100")), now)


def test_a_stop_not_found_after_a_restart_is_placed_again_in_the_same_reconciliation():
    core = SymbolCore(make_rules())
    state, stop = _opened(core)  # its answer never came: the bot was killed
    d = _restart_reconcile(core, state, stop, 1010.0)
    assert stop.client_order_id not in {o.client_order_id for o in d.state.orders}
    placed = _stops(d)
    assert len(placed) == 1, "the lost stop waited stop_retry_s with the position bare"
    (again,) = placed
    assert again.client_order_id != stop.client_order_id, "a new client order id"
    assert again.stop_price == stop.stop_price and again.amount == stop.amount
    assert d.state.phase is Phase.OPEN


def test_stops_lost_again_and_again_back_off_as_refusals_do():
    core = SymbolCore(make_rules())
    state, stop = _opened(core)
    d = _restart_reconcile(core, state, stop, 1010.0)
    (again,) = _stops(d)
    d = _restart_reconcile(core, d.state, again, 1011.0)  # swallowed too
    assert _stops(d) == [], "a second lost stop in a row waits: no loop"
    assert d.state.needs_stop and d.state.next_stop_at == 1011.0 + 2.0
    assert _stops(core.decide(d.state, TimerFired(), 1012.0)) == []
    assert len(_stops(core.decide(d.state, TimerFired(), 1013.0))) == 1


def test_a_lost_stop_report_places_the_stop_again_in_the_same_decision():
    """The executor's report of a stop whose create failed ambiguously and whose lookup found
    nothing (`OrderFailed.lost`)."""
    core = SymbolCore(make_rules())
    state, stop = _opened(core)
    d = core.decide(state, OrderFailed(client_order_id=stop.client_order_id, error=LOST,
                                       lost=True), 1002.5)
    (again,) = _stops(d)
    assert again.client_order_id != stop.client_order_id
    d = core.decide(d.state, OrderFailed(client_order_id=again.client_order_id, error=LOST,
                                         lost=True), 1002.6)
    assert _stops(d) == [] and d.state.next_stop_at == 1002.6 + 2.0


def test_a_refused_stop_still_waits_its_retry():
    core = SymbolCore(make_rules())
    state, stop = _opened(core)
    d = core.decide(state, OrderFailed(client_order_id=stop.client_order_id,
                                       error="InvalidOrder: stop refused"), 1002.5)
    assert _stops(d) == [] and d.state.next_stop_at == 1002.5 + 2.0


def test_a_lost_stop_move_is_sent_again_at_the_next_price_not_after_the_wait():
    """The old stop rests while a move is lost: less urgent, but nothing was wrong with it."""
    core = SymbolCore(make_rules(trailing_activation_pct=D("1"), trailing_callback_pct=D("0.5"),
                                 trailing_step_pct=D("0.1")))
    state, stop = _opened(core)
    state = core.decide(state, OrderAccepted(client_order_id=stop.client_order_id,
                                             exchange_id="s1"), 1002.5).state
    d = core.decide(state, PriceTicked(price=D("103")), 1003.0)
    (move,) = _stops(d)
    assert move.replaces == stop.client_order_id
    d = core.decide(d.state, OrderFailed(client_order_id=move.client_order_id, error=LOST,
                                         lost=True), 1003.1)
    assert d.state.active_stop() is not None  # the old stop still rests
    d = core.decide(d.state, PriceTicked(price=D("103")), 1003.2)
    (again,) = _stops(d)
    assert again.replaces == stop.client_order_id and again.stop_price == move.stop_price
