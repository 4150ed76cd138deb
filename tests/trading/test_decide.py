from __future__ import annotations

from decimal import Decimal

from tests.trading.conftest import make_rules
from tests.trading.scenario import Scenario
from trading.commands import CancelOrder, Escalate, PlaceOrder
from trading.decide import SymbolCore
from trading.events import (
    EntriesBlocked,
    OrderFailed,
    OrderFilled,
    PriceTicked,
    QuarantineLifted,
    SignalRaised,
    TimerFired,
)
from trading.model import OrderPurpose, OrderStatus, Phase, Side, TrailingState

D = Decimal


def opened(core: SymbolCore, side: Side = Side.LONG, price: str = "100") -> Scenario:
    sc = Scenario(core)
    sc.send(PriceTicked(price=D(price)))
    sc.send(SignalRaised(side=side))
    return sc


def test_entry_fills_then_reduce_only_stop_is_placed(core):
    sc = opened(core)
    assert sc.state.phase is Phase.OPEN
    pos = sc.state.position
    assert pos.side is Side.LONG and pos.contracts == D("1") and pos.entry_price == D("100")
    entry, stop = sc.placed
    assert entry.order.purpose is OrderPurpose.ENTRY and not entry.order.reduce_only
    assert stop.order.purpose is OrderPurpose.STOP and stop.order.reduce_only
    assert stop.order.stop_price == D("99.0") and stop.order.side == "sell"
    assert sc.state.stop_price == D("99.0")
    assert sc.state.active_stop().status is OrderStatus.OPEN


def test_client_order_ids_are_unique_and_valid(core):
    sc = opened(core)
    ids = [p.order.client_order_id for p in sc.placed]
    assert len(set(ids)) == len(ids)
    assert all(len(i) <= 36 for i in ids)
    assert all(i.startswith("main-ab12-") for i in ids)


def test_order_intent_is_in_the_state_before_the_command_runs(core):
    sc = Scenario(core, auto_exchange=False)
    sc.send(PriceTicked(price=D("100")))
    d = sc.send(SignalRaised(side=Side.LONG))
    (cmd,) = d.commands
    assert isinstance(cmd, PlaceOrder)
    assert d.state.order(cmd.order.client_order_id).status is OrderStatus.PENDING
    assert d.state.order_seq == 1


def test_short_stop_is_above_entry(core):
    sc = opened(core, Side.SHORT)
    assert sc.state.stop_price == D("101.0")
    assert sc.placed[-1].order.side == "buy"


def test_signal_skipped_when_not_flat_blocked_or_in_cooldown(core):
    sc = opened(core)
    sc.send(SignalRaised(side=Side.SHORT))
    assert sc.journal_types()[-1] == "SignalSkipped"
    sc2 = Scenario(core)
    sc2.send(PriceTicked(price=D("100")))
    sc2.send(EntriesBlocked(blocked=True, reason="kill switch"))
    d = sc2.send(SignalRaised(side=Side.LONG))
    assert not d.commands and d.journal[0].type == "SignalSkipped"


def test_size_below_market_minimum_is_skipped():
    sc = Scenario(SymbolCore(make_rules(order_size_usdt=D("3"))))
    sc.send(PriceTicked(price=D("100")))
    d = sc.send(SignalRaised(side=Side.LONG))
    assert not d.commands and "minimum" in d.journal[0].data["reason"]


def test_trailing_activates_ratchets_and_moves_exchange_stop(core):
    sc = opened(core)
    sc.send(PriceTicked(price=D("100.5")))  # activation = 100.5
    assert sc.state.trailing.state is TrailingState.ACTIVE
    assert sc.state.trailing.trigger_price == D("100.1")  # floor(100.5 * 0.997)
    moves = [p for p in sc.placed if p.order.purpose is OrderPurpose.STOP]
    assert moves[-1].order.stop_price == D("100.1") and moves[-1].order.replaces
    assert sc.canceled and sc.canceled[-1].client_order_id == moves[0].order.client_order_id
    assert sc.state.stop_price == D("100.1")
    sc.send(PriceTicked(price=D("100.3")))  # lower than best: trigger must not move down
    assert sc.state.trailing.trigger_price == D("100.1")


def test_small_trailing_moves_do_not_move_the_exchange_stop():
    sc = opened(SymbolCore(make_rules(trailing_step_pct=D("1"))))
    sc.send(PriceTicked(price=D("100.5")))
    sc.send(PriceTicked(price=D("100.6")))
    stops = [p for p in sc.placed if p.order.purpose is OrderPurpose.STOP]
    assert len(stops) == 2  # initial + first move from 99.0 (>= 1% of price)
    assert sc.state.trailing.trigger_price == D("100.2")
    assert sc.state.stop_price == D("100.1")


def test_exchange_stop_at_the_trigger_is_left_to_close_the_position(core):
    sc = opened(core)
    sc.send(PriceTicked(price=D("101")))
    assert sc.state.stop_price == sc.state.trailing.trigger_price == D("100.6")
    d = sc.send(PriceTicked(price=D("100.6")))
    assert not d.commands and sc.state.phase is Phase.OPEN  # no race with the exchange's own stop


def test_trailing_cross_closes_and_books_pnl_once():
    core = SymbolCore(make_rules(trailing_step_pct=D("5")))  # the exchange stop lags far behind
    sc = opened(core)
    sc.send(PriceTicked(price=D("101")))
    sc.send(PriceTicked(price=D("100.6")))  # trigger floor(101*0.997)=100.6 -> close
    assert sc.state.phase is Phase.FLAT and sc.state.position is None
    closed = [j for d in sc.decisions for j in d.journal if j.type == "PositionClosed"]
    assert len(closed) == 1 and closed[0].data["reason"] == "trailing_stop"
    ledger = sc.ledger()
    gross = sum(l.realized_pnl for l in ledger)
    assert gross == D("0.6")
    assert D(closed[0].data["net_pnl"]) == gross - sum(l.fee for l in ledger)
    # every order of the position is cancelled (incident 9)
    assert not sc.state.orders


def test_duplicate_fill_report_books_nothing():
    sc = opened(SymbolCore(make_rules(trailing_step_pct=D("5"))))
    sc.send(PriceTicked(price=D("101")))
    sc.send(PriceTicked(price=D("100.6")))
    close = [p.order for p in sc.placed if p.order.purpose is OrderPurpose.CLOSE][0]
    before = len(sc.ledger())
    sc.send(OrderFilled(client_order_id=close.client_order_id, exchange_id="x", filled=close.amount,
                        average=D("100.6"), fee=D("0.05")))
    assert len(sc.ledger()) == before


def test_losing_close_sets_cooldown(core):
    sc = opened(core)
    sc.send(SignalRaised(side=None, reason="strategy_exit"))
    sc.send(PriceTicked(price=D("99.5")))
    assert sc.state.phase is Phase.FLAT
    assert sc.state.cooldown_until == sc.now + 120.0
    d = sc.send(SignalRaised(side=Side.LONG), dt=10)
    assert d.journal[0].type == "SignalSkipped" and "cooldown" in d.journal[0].data["reason"]


def test_take_profit_closes():
    sc = opened(SymbolCore(make_rules(take_profit_pct=D("2"), trailing_activation_pct=D("5"))))
    sc.send(PriceTicked(price=D("102")))
    assert sc.state.phase is Phase.FLAT
    assert [j.data["reason"] for d in sc.decisions for j in d.journal if j.type == "PositionClosed"] == ["take_profit"]


def test_close_failures_back_off_then_escalate_without_booking_pnl():
    core = SymbolCore(make_rules(max_close_attempts=3))
    sc = opened(core)
    sc.auto_exchange = False
    ledger_before = len(sc.ledger())
    d = sc.send(SignalRaised(side=None, reason="exit"))
    attempts = 0
    for _ in range(20):
        closes = [c for c in d.commands if isinstance(c, PlaceOrder) and c.order.purpose is OrderPurpose.CLOSE]
        if closes:
            attempts += 1
            d = sc.send(OrderFailed(client_order_id=closes[0].order.client_order_id,
                                    error="NameError: name 'x' is not defined", never_reached=False))
            if any(isinstance(c, Escalate) for c in d.commands):
                break
        d = sc.send(TimerFired(), dt=10)
    assert attempts == 3
    assert sc.state.quarantined and sc.state.position is not None  # still tracked
    # the emergency close is the supervisor's (runtime/emergency.py), run on Escalate
    assert [type(c) for c in d.commands] == [Escalate]
    assert sc.state.active_stop() is not None  # the stop keeps protecting
    assert len(sc.ledger()) == ledger_before  # failed attempts never book P&L
    for _ in range(5):  # nothing more happens on its own
        d = sc.send(TimerFired(), dt=100)
        assert not d.commands


def test_close_backoff_is_exponential_with_ceiling():
    r = make_rules(close_backoff_initial_s=1.0, close_backoff_max_s=5.0).risk
    assert [r.close_backoff(n) for n in (1, 2, 3, 4, 5)] == [1.0, 2.0, 4.0, 5.0, 5.0]


def test_quarantine_lift_allows_trading_again():
    core = SymbolCore(make_rules(max_close_attempts=1))
    sc = opened(core)
    sc.auto_exchange = False
    d = sc.send(SignalRaised(side=None))
    close = d.commands[0].order
    sc.send(OrderFailed(client_order_id=close.client_order_id, error="rejected", never_reached=False))
    assert sc.state.quarantined
    sc.send(QuarantineLifted(by="test"))
    assert not sc.state.quarantined and sc.state.phase is Phase.OPEN and sc.state.close_attempts == 0


def test_stop_rejection_retries_and_closes_if_price_is_beyond_it(core):
    sc = Scenario(core, auto_exchange=False)
    sc.send(PriceTicked(price=D("100")))
    d = sc.send(SignalRaised(side=Side.LONG))
    entry = d.commands[0].order
    d = sc.send(OrderFilled(client_order_id=entry.client_order_id, exchange_id="e", filled=entry.amount,
                            average=D("100"), fee=D("0.05")))
    stop = d.commands[0].order
    sc.send(OrderFailed(client_order_id=stop.client_order_id, error="InvalidOrder", never_reached=False))
    assert sc.state.needs_stop
    d = sc.send(PriceTicked(price=D("98.9")), dt=5)
    closes = [c.order for c in d.commands if isinstance(c, PlaceOrder)]
    assert closes and closes[0].purpose is OrderPurpose.CLOSE


def test_position_closed_cancels_a_stop_in_flight(core):
    sc = opened(core)
    stop = sc.state.active_stop()
    sc.auto_exchange = False
    d = sc.send(OrderFilled(client_order_id=stop.client_order_id, exchange_id="x", filled=stop.amount,
                            average=D("99"), fee=D("0.05")))
    assert sc.state.phase is Phase.FLAT
    assert not [c for c in d.commands if isinstance(c, CancelOrder)]  # nothing else was open
    closed = [j for j in d.journal if j.type == "PositionClosed"][0]
    assert closed.data["reason"] == "stop_loss"
