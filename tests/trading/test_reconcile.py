"""Reconciliation cases from the crash-safety issue, on the pure core."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest

from tests.trading.conftest import make_rules
from tests.trading.scenario import Scenario
from tests.trading.test_grid_core import rules as grid_rules
from trading.commands import CancelOrder, Escalate, PlaceOrder
from trading.decide import SymbolCore
from trading.events import (
    ExchangeOrder,
    ExchangePosition,
    ExternalFill,
    OrderAccepted,
    PriceTicked,
    Reconciled,
    SignalRaised,
)
from trading.model import OrderPurpose, OrderStatus, Phase, Side
from trading.order_evidence import SEND_GRACE_S

D = Decimal


def pending_entry(core: SymbolCore) -> Scenario:
    sc = Scenario(core, auto_exchange=False)
    sc.send(PriceTicked(price=D("100")))
    sc.send(SignalRaised(side=Side.LONG))
    return sc


def test_intent_never_acknowledged_and_absent_is_marked_failed_not_resent(core):
    sc = pending_entry(core)
    # absent right after the send is no proof (the lookup may lag): still pending, looked again
    sc.send(Reconciled(position=None, orders={}, price=D("100")))
    assert sc.state.phase is Phase.ENTERING and sc.state.orders[0].status is OrderStatus.PENDING
    # absent once the send grace ran out: it never got there
    d = sc.send(Reconciled(position=None, orders={}, price=D("100")), dt=SEND_GRACE_S)
    assert sc.state.phase is Phase.FLAT
    assert not [c for c in d.commands if isinstance(c, PlaceOrder)]
    assert d.state.finished_orders[0].status is OrderStatus.FAILED
    assert "IntentNotOnExchange" in [j.type for j in d.journal]


def test_intent_that_filled_is_adopted_and_protected(core):
    sc = pending_entry(core)
    cid = sc.state.orders[0].client_order_id
    d = sc.send(Reconciled(
        position=ExchangePosition(side=Side.LONG, contracts=D("1"), entry_price=D("100")),
        orders={cid: ExchangeOrder(client_order_id=cid, exchange_id="9", status="closed",
                                   filled=D("1"), average=D("100"), fee=D("0.05"))},
        price=D("100")))
    assert sc.state.phase is Phase.OPEN and sc.state.position.contracts == D("1")
    stops = [c.order for c in d.commands if isinstance(c, PlaceOrder)]
    assert [o.purpose for o in stops] == [OrderPurpose.STOP]
    assert len(d.ledger) == 1 and d.ledger[0].fee == D("0.05")


def test_position_closed_by_its_stop_while_down_books_pnl_from_the_stop_fill(core):
    sc = Scenario(core)
    sc.send(PriceTicked(price=D("100")))
    sc.send(SignalRaised(side=Side.LONG))
    stop = sc.state.active_stop()
    d = sc.send(Reconciled(position=None, orders={stop.client_order_id: ExchangeOrder(
        client_order_id=stop.client_order_id, exchange_id="s", status="closed", filled=D("1"),
        average=D("99"), fee=D("0.05"))}, price=D("98")))
    closed = [j for j in d.journal if j.type == "PositionClosed"]
    assert closed and closed[0].data["reason"] == "stop_loss"
    assert d.ledger[0].realized_pnl == D("-1")
    assert sc.state.phase is Phase.FLAT


def test_position_gone_without_our_fills_uses_external_fills_not_phantom(core):
    sc = Scenario(core)
    sc.send(PriceTicked(price=D("100")))
    sc.send(SignalRaised(side=Side.LONG))
    stop = sc.state.active_stop()
    d = sc.send(Reconciled(
        position=None,
        orders={stop.client_order_id: ExchangeOrder(client_order_id=stop.client_order_id, exchange_id="s",
                                                    status="canceled", filled=D("0"), average=None, fee=D("0"))},
        external_fills=(ExternalFill(side="sell", amount=D("1"), price=D("103"), fee=D("0.1")),),
        price=D("103")))
    closed = [j for j in d.journal if j.type == "PositionClosed"][0]
    assert closed.data["reason"] == "closed_on_exchange"
    assert D(closed.data["realized_pnl"]) == D("3")


def test_unknown_position_is_adopted_and_protected(core):
    sc = Scenario(core, auto_exchange=False)
    d = sc.send(Reconciled(position=ExchangePosition(side=Side.SHORT, contracts=D("2"), entry_price=D("50")),
                           price=D("50")))
    assert sc.state.phase is Phase.OPEN and sc.state.position.side is Side.SHORT
    (stop,) = [c.order for c in d.commands if isinstance(c, PlaceOrder)]
    assert stop.purpose is OrderPurpose.STOP and stop.stop_price == D("50.5") and stop.amount == D("2")


def test_unknown_position_flagged_when_configured():
    sc = Scenario(SymbolCore(make_rules(adopt_unknown_positions=False)), auto_exchange=False)
    d = sc.send(Reconciled(position=ExchangePosition(side=Side.LONG, contracts=D("1"), entry_price=D("100"))))
    assert sc.state.quarantined and not d.commands
    assert d.journal[0].type == "UnknownPositionFlagged"


def test_orphans_are_cancelled_and_missing_stop_is_placed(core):
    sc = Scenario(core)
    sc.send(PriceTicked(price=D("100")))
    sc.send(SignalRaised(side=Side.LONG))
    stop = sc.state.active_stop()
    sc.auto_exchange = False
    orphan = ExchangeOrder(client_order_id="someone-else", exchange_id="o1", status="open",
                           filled=D("0"), average=None, fee=D("0"))
    d = sc.send(Reconciled(position=ExchangePosition(side=Side.LONG, contracts=D("1"), entry_price=D("100")),
                           orders={}, orphans=(orphan,), price=D("100")))
    cancels = [c for c in d.commands if isinstance(c, CancelOrder)]
    assert [c.exchange_id for c in cancels] == ["o1"]
    new_stops = [c.order for c in d.commands if isinstance(c, PlaceOrder)]
    assert new_stops and new_stops[0].purpose is OrderPurpose.STOP
    assert new_stops[0].client_order_id != stop.client_order_id
    assert "OrphanCanceled" in [j.type for j in d.journal]


def test_flagged_unknown_position_keeps_its_reduce_only_stop():
    """adopt_unknown_positions = false: the bot leaves a position it did not open alone. The
    reduce-only stop protecting it (the operator's) is not ours to cancel: cancelled as an
    orphan, the position the bot will not manage was left without any stop. An order that could
    open a position is still cancelled (rule 9), and so is the stop once the position is gone."""
    sc = Scenario(SymbolCore(make_rules(adopt_unknown_positions=False)), auto_exchange=False)
    theirs = ExchangePosition(side=Side.LONG, contracts=D("1"), entry_price=D("100"))
    stop = ExchangeOrder(client_order_id="web_stop", exchange_id="s1", status="open",
                         filled=D("0"), average=None, fee=D("0"), reduce_only=True)
    entry = ExchangeOrder(client_order_id="web_buy", exchange_id="b1", status="open",
                          filled=D("0"), average=None, fee=D("0"))
    d = sc.send(Reconciled(position=theirs, orphans=(stop, entry), price=D("100")))
    assert sc.state.quarantined
    assert [c.exchange_id for c in d.commands if isinstance(c, CancelOrder)] == ["b1"]
    d = sc.send(Reconciled(position=theirs, orphans=(stop,), price=D("100")))
    assert not [c for c in d.commands if isinstance(c, CancelOrder)]
    d = sc.send(Reconciled(position=None, orphans=(stop,), price=D("100")))
    assert [c.exchange_id for c in d.commands if isinstance(c, CancelOrder)] == ["s1"]


def test_a_position_on_the_other_side_alerts_once(core):
    """Our long is a short on the exchange (flipped by hand, or a close that overshot): our
    stop, a reduce-only sell, can never close a short, so the exchange's position has no stop
    while our books show a protected long (no 'unprotected' alert can fire). The symbol was
    quarantined with a journal line only; now a person is alerted (no emergency close: which
    position is right is theirs to say), once, not at every reconciliation."""
    sc = Scenario(core)
    sc.send(PriceTicked(price=D("100")))
    sc.send(SignalRaised(side=Side.LONG))
    sc.auto_exchange = False
    short = ExchangePosition(side=Side.SHORT, contracts=D("1"), entry_price=D("100"))
    d = sc.send(Reconciled(position=short, price=D("100")))
    assert sc.state.quarantined
    (alert,) = [c for c in d.commands if isinstance(c, Escalate)]
    assert not alert.close and "short" in alert.reason
    d = sc.send(Reconciled(position=short, price=D("100")))
    assert not [c for c in d.commands if isinstance(c, Escalate)]


def test_a_price_through_our_stop_sends_no_close_while_the_sides_differ(core):
    """Our long listed as a short, our stop gone too: a price through our long's stop level sent
    a close for the long (a reduce-only sell the venue refuses on a short) at every price,
    counted until it escalated into the emergency close of the exchange's short, which is the
    person's to decide. Nothing is sent now; once the exchange lists the long again, the price
    through the level closes it at once, as before."""
    sc = Scenario(core)
    sc.send(PriceTicked(price=D("100")))
    sc.send(SignalRaised(side=Side.LONG))
    sc.auto_exchange = False
    short = ExchangePosition(side=Side.SHORT, contracts=D("1"), entry_price=D("100"))
    sc.send(Reconciled(position=short, orders={}, price=D("100")))  # our stop: not found
    sc.send(Reconciled(position=short, orders={}, price=D("100")))  # ...twice: gone
    assert sc.state.quarantined and not sc.state.live_orders(OrderPurpose.STOP)
    for price in ("98.5", "98", "97"):
        d = sc.send(PriceTicked(price=D(price)), dt=3)
        assert not [c for c in d.commands if isinstance(c, PlaceOrder)], price
    long = ExchangePosition(side=Side.LONG, contracts=D("1"), entry_price=D("100"))
    d = sc.send(Reconciled(position=long, orders={}, price=D("97")))
    (close,) = [c.order for c in d.commands if isinstance(c, PlaceOrder)]
    assert close.purpose is OrderPurpose.CLOSE and close.side == "sell"


def test_an_adopted_positions_own_stop_stays_until_ours_rests(core):
    """Found by the mutation audit (helper p): dropping `_bare` from the orphan rule survived
    every test. A position adopted from the exchange comes with its owner's reduce-only stop;
    while ours is only sent (not resting yet, or refused) that stop is all that protects it.
    Cancelled as an orphan in the adopting reconciliation, the position was left bare. Once our
    stop rests, it goes."""
    sc = Scenario(core, auto_exchange=False)  # our stop is sent, not acknowledged yet
    sc.send(PriceTicked(price=D("100")))
    theirs = ExchangePosition(side=Side.LONG, contracts=D("1"), entry_price=D("100"))
    their_stop = ExchangeOrder(client_order_id="web_stop", exchange_id="s1", status="open",
                               filled=D("0"), average=None, fee=D("0"), reduce_only=True,
                               trigger_price=D("95"))
    d = sc.send(Reconciled(position=theirs, orphans=(their_stop,), price=D("100")))
    assert "PositionAdopted" in [j.type for j in d.journal]
    (ours,) = [c.order for c in d.commands if isinstance(c, PlaceOrder)]
    assert ours.purpose is OrderPurpose.STOP
    assert not [c for c in d.commands if isinstance(c, CancelOrder)]  # its stop protects it
    sc.send(OrderAccepted(client_order_id=ours.client_order_id, exchange_id="n1"))
    d = sc.send(Reconciled(position=theirs, orders={ours.client_order_id: ExchangeOrder(
        client_order_id=ours.client_order_id, exchange_id="n1", status="open", filled=D("0"),
        average=None, fee=D("0"))}, orphans=(their_stop,), price=D("100")))
    assert [c.exchange_id for c in d.commands if isinstance(c, CancelOrder)] == ["s1"]


def test_a_reduce_only_limit_by_hand_is_no_protection_of_a_bare_position(core):
    """Our stop not resting (sent, not acknowledged): a reduce-only stop by hand is kept as the
    position's protection (above), but a reduce-only limit by hand (a take-profit, no trigger)
    protects nothing and goes (rule 9), as in the emergency close. Kept, it refused the bot's
    every close on Binance (-4118) while the price was through our stop's level, until the
    symbol escalated (tests/actors/test_one_way_binance_closers.py)."""
    sc = Scenario(core, auto_exchange=False)
    sc.send(PriceTicked(price=D("100")))
    theirs = ExchangePosition(side=Side.LONG, contracts=D("1"), entry_price=D("100"))
    their_tp = ExchangeOrder(client_order_id="web_tp", exchange_id="t1", status="open",
                             filled=D("0"), average=None, fee=D("0"), reduce_only=True)
    d = sc.send(Reconciled(position=theirs, orphans=(their_tp,), price=D("100")))
    (ours,) = [c.order for c in d.commands if isinstance(c, PlaceOrder)]
    assert ours.purpose is OrderPurpose.STOP  # ours is only sent: the position is bare
    assert [c.exchange_id for c in d.commands if isinstance(c, CancelOrder)] == ["t1"]


def test_an_exchange_without_send_grace_ends_an_absent_intent_at_once():
    """The in-process paper exchange's grace (0, `Rules.send_grace_s`): the first not-found of
    an entry intent proves it never got there; no doubt, no wait (the venue's 60 s above)."""
    sc = pending_entry(SymbolCore(replace(make_rules(), send_grace_s=0.0)))
    d = sc.send(Reconciled(position=None, orders={}, price=D("100")))
    assert sc.state.phase is Phase.FLAT
    assert d.state.finished_orders[0].status is OrderStatus.FAILED
    assert "IntentNotOnExchange" in [j.type for j in d.journal]
    assert "OrderReportDeferred" not in [j.type for j in d.journal]


def test_a_send_grace_below_zero_is_refused_with_one_line():
    with pytest.raises(ValueError, match="send grace must be >= 0 seconds, got -1.0"):
        replace(make_rules(), send_grace_s=-1.0)
    with pytest.raises(ValueError, match="send grace must be >= 0 seconds"):
        replace(grid_rules(), send_grace_s=float("nan"))
