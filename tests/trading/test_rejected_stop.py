"""Issue 16 item 5: a position whose first stop is refused (the price is already through it) or
not acknowledged yet is never left without protection: the core closes it at once."""

from __future__ import annotations

from decimal import Decimal as D

from trading.commands import PlaceOrder
from trading.decide import SymbolCore
from trading.events import OrderAccepted, OrderFailed, OrderFilled, PriceTicked, SignalRaised
from trading.model import OrderPurpose, Phase, Side

from tests.trading.conftest import make_rules


def _opened(core: SymbolCore, price: str = "100", market: str | None = None):
    """A long entry filled at `price` while the last price seen is `market` (default: the
    same); returns (state, the stop order placed for it)."""
    d = core.decide(core_state(core), PriceTicked(price=D(market or price)), 1000.0)
    d = core.decide(d.state, SignalRaised(side=Side.LONG), 1001.0)
    (entry,) = [c.order for c in d.commands if isinstance(c, PlaceOrder)]
    d = core.decide(d.state, OrderFilled(client_order_id=entry.client_order_id, exchange_id="e1",
                                         filled=entry.amount, average=D(price), fee=D("0.05")), 1002.0)
    (stop,) = [c.order for c in d.commands if isinstance(c, PlaceOrder)]
    assert stop.purpose is OrderPurpose.STOP and stop.stop_price == D("99.0")
    return d.state, stop


def core_state(core: SymbolCore):
    from trading.model import SymbolState

    return SymbolState(symbol=core.rules.symbol)


def _closes(decision) -> list:
    return [c.order for c in decision.commands
            if isinstance(c, PlaceOrder) and c.order.purpose is OrderPurpose.CLOSE]


def test_a_stop_refused_because_the_price_is_through_it_closes_at_once():
    core = SymbolCore(make_rules())
    # a fast market: the entry filled at 100 while the price was already at 98.7, through 99.0
    state, stop = _opened(core, price="100", market="98.7")
    d = core.decide(state, OrderFailed(client_order_id=stop.client_order_id,
                                       error="InvalidOrder: trigger price must be below the current price"),
                    1002.6)
    assert len(_closes(d)) == 1, "the close goes out in the same decision, not after stop_retry_s"
    assert d.state.phase is Phase.CLOSING
    assert any(j.type == "StopAlreadyCrossed" for j in d.journal)


def test_a_refused_stop_with_the_price_still_on_the_safe_side_is_retried_not_closed():
    core = SymbolCore(make_rules())
    state, stop = _opened(core)
    d = core.decide(state, OrderFailed(client_order_id=stop.client_order_id, error="rate limited"), 1002.6)
    assert _closes(d) == [] and d.state.phase is Phase.OPEN and d.state.needs_stop


def test_before_the_stop_is_acknowledged_a_price_through_the_intended_stop_closes():
    core = SymbolCore(make_rules())
    state, stop = _opened(core)  # the stop order is in flight: no stop level acknowledged yet
    assert state.stop_price is None
    band = core.quiet_band(state)
    assert band is not None and not band.contains(D("98.9"), 1002.7), \
        "a price through the intended stop is never quiet"
    d = core.decide(state, PriceTicked(price=D("98.9")), 1002.7)
    assert len(_closes(d)) == 1 and d.state.phase is Phase.CLOSING
    # the acknowledgement that arrives afterwards changes nothing about the close
    d = core.decide(d.state, OrderAccepted(client_order_id=stop.client_order_id, exchange_id="s1"), 1002.8)
    assert d.state.phase is Phase.CLOSING


def test_a_refused_stop_carrying_the_exchanges_price_closes_although_the_last_tick_was_safe():
    """The shell reads the exchange's price right after a refused stop (OrderFailed.market_price):
    the last tick the actor saw (100) is far behind the market (98.7), and no fresh tick may ever
    come (at a shutdown)."""
    core = SymbolCore(make_rules())
    state, stop = _opened(core)
    d = core.decide(state, OrderFailed(client_order_id=stop.client_order_id, error="refused",
                                       never_reached=False, market_price=D("98.7")), 1002.6)
    assert len(_closes(d)) == 1 and d.state.phase is Phase.CLOSING


def test_a_refused_stop_through_its_level_closes_under_its_own_reason():
    """Mutation audit (helper y): with the two reasons swapped (trading/order_reports.py
    `_stop_failed`: "trailing_stop" for a refused move, "stop_loss" for a refused first stop),
    no test failed. The close reason is what the trades, the report's exit reasons and the
    notices show: a trailing stop's profit taken would read as a stop-loss, a stop-loss as a
    trailing stop. Rules of tests/trading/conftest.py: long 1 @ 100, stop 99.0; 100.5 activates
    the trailing stop, trigger floor(100.5 * 0.997) = 100.1, a move from 99.0 to 100.1."""
    from tests.trading.test_partial_fills import Core

    c = Core()  # the first stop refused, the venue's price 98.7 through 99.0
    entry = c.entry()
    c.send(OrderFilled(client_order_id=entry.client_order_id, exchange_id="e1", filled=D(1),
                       average=D(100), fee=D("0.05")))
    (stop,) = c.placed(OrderPurpose.STOP)
    c.send(OrderFailed(client_order_id=stop.client_order_id, error="refused",
                       never_reached=False, market_price=D("98.7")))
    assert len(c.placed(OrderPurpose.CLOSE)) == 1 and c.state.close_reason == "stop_loss"

    c = Core()  # the trailing move refused, the venue's price 100.0 through 100.1
    entry = c.entry()
    c.send(OrderFilled(client_order_id=entry.client_order_id, exchange_id="e1", filled=D(1),
                       average=D(100), fee=D("0.05")))
    (stop,) = c.placed(OrderPurpose.STOP)
    c.send(OrderAccepted(client_order_id=stop.client_order_id, exchange_id="s1"))
    c.send(PriceTicked(price=D("100.5")))
    (move,) = c.placed(OrderPurpose.STOP)
    assert move.stop_price == D("100.1") and move.replaces == stop.client_order_id
    c.send(OrderFailed(client_order_id=move.client_order_id, error="refused",
                       never_reached=False, market_price=D("100.0")))
    (close,) = c.placed(OrderPurpose.CLOSE)
    assert c.state.close_reason == "trailing_stop"
    d = c.send(OrderFilled(client_order_id=close.client_order_id, exchange_id="c1",
                           filled=D(1), average=D("100.0"), fee=D("0.05")))
    assert [j.data["reason"] for j in d.journal if j.type == "PositionClosed"] == ["trailing_stop"]
