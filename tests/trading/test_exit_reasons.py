"""Issue 16 item 7: a fill of the original stop is a stop-loss even while a trailing trigger
exists; only a stop the trailing stop has moved is labelled trailing_stop."""

from __future__ import annotations

from decimal import Decimal as D

from tests.trading.conftest import make_rules
from trading.commands import AmendStop, PlaceOrder
from trading.decide import SymbolCore
from trading.events import (
    ExchangeOrder,
    OrderAccepted,
    OrderFilled,
    PriceTicked,
    Reconciled,
    SignalRaised,
)
from trading.model import OrderPurpose, Side, SymbolState


def _open_with_stop(core: SymbolCore):
    d = core.decide(SymbolState(symbol=core.rules.symbol), PriceTicked(price=D("100")), 1000.0)
    d = core.decide(d.state, SignalRaised(side=Side.LONG), 1001.0)
    (entry,) = [c.order for c in d.commands if isinstance(c, PlaceOrder)]
    d = core.decide(d.state, OrderFilled(client_order_id=entry.client_order_id, exchange_id="e",
                                         filled=entry.amount, average=D("100"), fee=D(0)), 1002.0)
    (stop,) = [c.order for c in d.commands if isinstance(c, PlaceOrder)]
    d = core.decide(d.state, OrderAccepted(client_order_id=stop.client_order_id, exchange_id="s"), 1003.0)
    return d.state, stop


def _reason(decision) -> str:
    (closed,) = [j for j in decision.journal if j.type == "PositionClosed"]
    return closed.data["reason"]


def test_the_original_stop_filling_in_a_gap_is_a_stop_loss_although_a_trailing_trigger_exists():
    core = SymbolCore(make_rules(trailing_step_pct=D("50")))  # the exchange stop is never moved
    state, stop = _open_with_stop(core)
    state = core.decide(state, PriceTicked(price=D("101")), 1004.0).state
    assert state.trailing is not None and state.trailing.trigger_price is not None
    assert state.active_stop().client_order_id == stop.client_order_id  # still the original
    # the market gaps from 101 to 98.9: the exchange's original stop (99.0) fills first
    d = core.decide(state, OrderFilled(client_order_id=stop.client_order_id, exchange_id="s",
                                       filled=stop.amount, average=D("99.0"), fee=D(0)), 1005.0)
    assert _reason(d) == "stop_loss"


def test_a_stop_moved_by_the_trailing_stop_is_labelled_trailing_stop():
    core = SymbolCore(make_rules())
    state, stop = _open_with_stop(core)
    d = core.decide(state, PriceTicked(price=D("101")), 1004.0)
    (move,) = [c.order for c in d.commands if isinstance(c, PlaceOrder)]
    assert move.purpose is OrderPurpose.STOP and move.stop_price > stop.stop_price
    state = core.decide(d.state, OrderAccepted(client_order_id=move.client_order_id, exchange_id="m"),
                        1004.5).state
    d = core.decide(state, OrderFilled(client_order_id=move.client_order_id, exchange_id="m",
                                       filled=move.amount, average=move.stop_price, fee=D(0)), 1005.0)
    assert _reason(d) == "trailing_stop"


def test_a_stop_amended_in_place_whose_answer_was_lost_is_labelled_by_the_venues_level():
    """Live chaos (Bybit, seed 4511): a kill with a stop amend in flight (the venue moved the
    stop, the bot never heard: no StopAmended), then the stop fired at the moved level while
    the bot was down. The books still held the original level, so the fill was booked as
    `stop_loss` (with a profit: realized +3.0978 on a long closed above its entry). The venue
    tells the stop's trigger with its fill: the reason is decided on that level."""
    core = SymbolCore(make_rules(amend_stops=True))
    state, stop = _open_with_stop(core)
    d = core.decide(state, PriceTicked(price=D("101")), 1004.0)
    (amend,) = [c for c in d.commands if isinstance(c, AmendStop)]
    assert amend.stop_price > stop.stop_price
    # the answer never arrives (killed); the state as restored still holds the original level
    state = d.state
    assert state.active_stop().stop_price == stop.stop_price
    d = core.decide(state, OrderFilled(client_order_id=stop.client_order_id, exchange_id="s",
                                       filled=stop.amount, average=amend.stop_price, fee=D(0),
                                       trigger_price=amend.stop_price), 1005.0)
    assert _reason(d) == "trailing_stop"


def test_a_fill_telling_the_original_level_stays_a_stop_loss():
    core = SymbolCore(make_rules(amend_stops=True, trailing_step_pct=D("50")))
    state, stop = _open_with_stop(core)
    state = core.decide(state, PriceTicked(price=D("101")), 1004.0).state
    d = core.decide(state, OrderFilled(client_order_id=stop.client_order_id, exchange_id="s",
                                       filled=stop.amount, average=D("98.9"), fee=D(0),
                                       trigger_price=stop.stop_price), 1005.0)
    assert _reason(d) == "stop_loss"


def test_reconciliation_finding_the_amended_stop_filled_labels_it_by_the_venues_level():
    """The same stop found filled by the restart's reconciliation (it fired while the bot was
    down), the exchange listing it with its moved trigger."""
    core = SymbolCore(make_rules(amend_stops=True))
    state, stop = _open_with_stop(core)
    d = core.decide(state, PriceTicked(price=D("101")), 1004.0)
    (amend,) = [c for c in d.commands if isinstance(c, AmendStop)]
    found = ExchangeOrder(client_order_id=stop.client_order_id, exchange_id="s", status="closed",
                          filled=stop.amount, average=amend.stop_price, fee=D(0),
                          reduce_only=True, trigger_price=amend.stop_price)
    d = core.decide(d.state, Reconciled(position=None, orders={stop.client_order_id: found},
                                        price=D("100.7")), 1005.0)
    assert _reason(d) == "trailing_stop"
