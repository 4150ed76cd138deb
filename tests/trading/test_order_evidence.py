"""Order lookups that are not evidence (trading/order_evidence.py), on the production cores
through production's decision loop: a fill without a price, a not-found right after an
ambiguous send, one not-found of an acknowledged order, a status that cannot be read. Both
styles (the one-way core, the hedge grid)."""

from __future__ import annotations

from decimal import Decimal

from tests.trading.scenario import Scenario
from tests.trading.test_grid_core import Book
from trading import evidence
from trading import order_evidence as oe
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
from trading.grid.events import GridReconciled
from trading.grid.model import GridKind
from trading.model import OrderPurpose, OrderStatus, Phase, Side

D = Decimal
LONG_1 = ExchangePosition(side=Side.LONG, contracts=D("1"), entry_price=D("100"))


def answer(cid: str, status: str | None, filled: str = "0", average: str | None = None,
           fee: str = "0") -> ExchangeOrder:
    return ExchangeOrder(client_order_id=cid, exchange_id="x" + cid, status=status,  # type: ignore[arg-type]
                         filled=D(filled), average=None if average is None else D(average),
                         fee=D(fee))


def pending_entry(core: SymbolCore) -> Scenario:
    sc = Scenario(core, auto_exchange=False)
    sc.send(PriceTicked(price=D("100")))
    sc.send(SignalRaised(side=Side.LONG))
    return sc


def protected_long(core: SymbolCore) -> tuple[Scenario, str]:
    sc = Scenario(core)
    sc.send(PriceTicked(price=D("100")))
    sc.send(SignalRaised(side=Side.LONG))
    stop = sc.state.active_stop()
    assert stop is not None
    return sc, stop.client_order_id


def commands(sc: Scenario, since: int) -> list:
    return [c for d in sc.decisions[since:] for c in d.commands]


# -- 1. a fill without a venue price is never booked at a made-up one ----------------------------

def test_an_entry_filled_without_a_price_is_not_booked_at_zero(core):
    sc = pending_entry(core)
    cid = sc.state.orders[0].client_order_id
    # (no position listed yet to price it by: test_an_entry_filled_without_a_price_is_priced_...)
    d = sc.send(Reconciled(position=None, orders={cid: answer(cid, "closed", "1", None, "0.05")},
                           price=D("100")))
    assert not d.ledger and sc.state.position is None  # nothing booked, least of all at 0
    assert sc.state.order(cid).status is OrderStatus.PENDING  # kept as it was, looked at again
    assert "OrderReportDeferred" in sc.journal_types()
    assert not [c for c in d.commands if isinstance(c, PlaceOrder)]  # no stop placed from 0
    assert oe.recheck_due(sc.state, sc.now + oe.LOOK_AGAIN_S)
    # the next answer carries the price: booked at it, protected from it
    d = sc.send(Reconciled(position=LONG_1, orders={cid: answer(cid, "closed", "1", "100.2",
                                                                "0.05")}, price=D("100")))
    assert sc.state.phase is Phase.OPEN and sc.state.position.entry_price == D("100.2")
    assert [e.price for e in d.ledger] == [D("100.2")]
    assert not sc.state.doubts


def test_a_fill_without_a_price_that_persists_alerts_once(core):
    sc = pending_entry(core)
    cid = sc.state.orders[0].client_order_id
    alerts = []
    for _ in range(evidence.ALERT_AFTER_RECONCILES + 2):  # no position listed to price it by
        d = sc.send(Reconciled(position=None, orders={cid: answer(cid, "closed", "1")},
                               price=D("100")), dt=oe.LOOK_AGAIN_S)
        alerts += [c for c in d.commands if isinstance(c, Escalate)]
    assert len(alerts) == 1 and alerts[0].close is False
    assert "OrderReportAlerted" in sc.journal_types()
    assert not sc.ledger() and not sc.state.quarantined


def test_a_grid_entry_filled_without_a_price_is_not_booked():
    b = Book()
    b.send(PriceTicked(price=D(100)))
    entry = next(o for o in b.placed(GridKind.OPEN) if o.leg is Side.LONG)
    cid = entry.client_order_id
    b.send(GridReconciled(positions={}, orders={cid: answer(cid, "closed", str(entry.amount))},
                          price=D(100)))
    assert not b.ledger and not b.state.long.is_open  # not booked at 0 (nor at any price)
    assert b.state.order(cid) is not None and "OrderReportDeferred" in b.journal


def test_a_grid_take_profit_seen_resting_fills_at_its_own_limit_price():
    """The one real evidence without an average: a limit order we saw resting is the maker of
    every trade it is in, and trades at its own price."""
    b = Book()
    b.open_both()
    (tp,) = b.state.orders_of(Side.LONG, GridKind.TP)
    assert tp.status is OrderStatus.OPEN and tp.price is not None
    cid = tp.client_order_id
    others = {o.client_order_id: answer(o.client_order_id, "open") for o in b.state.orders
              if o.client_order_id != cid}
    b.send(GridReconciled(
        positions={Side.SHORT: ExchangePosition(side=Side.SHORT, contracts=D(1),
                                                entry_price=D(100))},
        orders={**others, cid: answer(cid, "closed", str(tp.amount), None, "0.02")},
        price=tp.price))
    exits = [e for e in b.ledger if e.client_order_id == cid]
    assert [e.price for e in exits] == [tp.price]


# -- 2. not found right after an ambiguous send is not proof it never got there ------------------

def test_an_intent_not_found_within_the_grace_stays_pending_and_its_fill_is_booked(core):
    sc = pending_entry(core)  # the send timed out: no answer, the order may well have landed
    cid = sc.state.orders[0].client_order_id
    d = sc.send(Reconciled(position=None, orders={}, price=D("100")), dt=1.0)
    assert "IntentNotOnExchange" not in [j.type for j in d.journal]
    assert sc.state.phase is Phase.ENTERING and sc.state.order(cid).status is OrderStatus.PENDING
    assert not oe.recheck_due(sc.state, sc.now + 1.0)
    assert oe.recheck_due(sc.state, sc.now + oe.LOOK_AGAIN_S)  # the loop looks again soon
    d = sc.send(Reconciled(position=LONG_1, orders={cid: answer(cid, "closed", "1", "100",
                                                                "0.05")}, price=D("100")),
                dt=oe.LOOK_AGAIN_S)
    assert sc.state.phase is Phase.OPEN and sc.state.position.position_id == cid
    assert [(e.client_order_id, e.fee) for e in d.ledger] == [(cid, D("0.05"))]  # fee booked
    assert "PositionAdopted" not in sc.journal_types()


def test_an_entry_the_lookup_misses_but_the_position_shows_is_protected_at_once(core):
    # Found by review: within the send grace the entry stayed pending while the exchange
    # already listed its position, so the position had no stop for up to the whole grace
    # (60 s; 5 s before the grace existed). The listed position is the evidence it landed.
    sc = pending_entry(core)
    cid = sc.state.orders[0].client_order_id
    d = sc.send(Reconciled(position=LONG_1, orders={}, price=D("100")), dt=1.0)
    assert "EntryShownByPosition" in [j.type for j in d.journal]
    assert sc.state.phase is Phase.OPEN and sc.state.position.position_id == cid
    assert sc.state.position.contracts == D("1") and sc.state.position.entry_price == D("100")
    stops = [c.order for c in d.commands if isinstance(c, PlaceOrder)]
    assert [o.purpose for o in stops] == [OrderPurpose.STOP]  # protected in this reconcile
    assert [(e.client_order_id, e.amount, e.fee) for e in d.ledger] == [(cid, D("1"), D("0"))]
    # its fee is owed: the lookup that finds the order later books it, once, on its own
    d = sc.send(Reconciled(position=LONG_1, orders={cid: answer(cid, "closed", "1", "100",
                                                                "0.05")}, price=D("100")),
                dt=oe.LOOK_AGAIN_S)
    assert [(e.client_order_id, e.amount, e.fee) for e in d.ledger] == [(cid, D("0"), D("0.05"))]
    assert sc.state.position.contracts == D("1")  # not booked twice
    d = sc.send(Reconciled(position=LONG_1, orders={cid: answer(cid, "closed", "1", "100",
                                                                "0.05")}, price=D("100")),
                dt=oe.LOOK_AGAIN_S)
    assert not d.ledger and sc.state.position.contracts == D("1")


def test_a_listed_position_larger_than_the_entry_is_not_taken_for_it(core):
    sc = pending_entry(core)
    cid = sc.state.orders[0].client_order_id
    bigger = ExchangePosition(side=Side.LONG, contracts=D("3"), entry_price=D("100"))
    d = sc.send(Reconciled(position=bigger, orders={}, price=D("100")), dt=1.0)
    assert "EntryShownByPosition" not in [j.type for j in d.journal]
    assert sc.state.position is None and sc.state.order(cid).status is OrderStatus.PENDING


def test_a_grid_intent_not_found_within_the_grace_stays_pending():
    b = Book()
    b.send(PriceTicked(price=D(100)))
    entry = next(o for o in b.placed(GridKind.OPEN) if o.leg is Side.LONG)
    b.send(GridReconciled(positions={}, orders={}, price=D(100)))
    assert b.state.order(entry.client_order_id).status is OrderStatus.PENDING
    b.now += oe.SEND_GRACE_S
    b.send(GridReconciled(positions={}, orders={}, price=D(100)))
    assert b.state.order(entry.client_order_id) is None  # past the grace: never got there


# -- 3. one not-found does not end an acknowledged order ------------------------------------------

def test_a_stop_not_found_once_is_replaced_and_the_old_one_cancelled_by_client_id(core):
    sc, old = protected_long(core)
    start = len(sc.decisions)
    sc.send(Reconciled(position=LONG_1, orders={}, price=D("100")))
    sent = commands(sc, start)
    (new,) = [c.order for c in sent if isinstance(c, PlaceOrder)]
    assert new.purpose is OrderPurpose.STOP and new.replaces == old  # re-protected at once
    # once the new one rests, the old one is cancelled by its client id: a duplicate that did
    # exist goes; one that did not, the cancel finds nothing
    assert [c.client_order_id for c in sent if isinstance(c, CancelOrder)] == [old]
    assert [o.client_order_id for o in sc.state.live_orders(OrderPurpose.STOP)] == [
        new.client_order_id]


def test_an_acknowledged_order_ends_only_at_the_second_miss_in_a_row(core):
    sc, old = protected_long(core)
    sc.auto_exchange = False  # the replacement stays pending: the old one is not cancelled
    sc.send(Reconciled(position=LONG_1, orders={}, price=D("100")))
    assert sc.state.order(old).status is OrderStatus.OPEN
    assert oe.misses(sc.state, old) == 1
    new = next(o for o in sc.state.orders if o.replaces == old).client_order_id
    sc.send(Reconciled(position=LONG_1, orders={new: answer(new, "open")}, price=D("100")),
            dt=oe.LOOK_AGAIN_S)
    assert sc.state.order(old) is None  # gone: two misses in a row
    (left,) = sc.state.live_orders(OrderPurpose.STOP)
    assert left.client_order_id == new  # the replacement protects, no third stop


def test_a_miss_then_a_found_answer_starts_counting_again(core):
    sc, old = protected_long(core)
    sc.auto_exchange = False
    sc.send(Reconciled(position=LONG_1, orders={}, price=D("100")))
    pending = [o for o in sc.state.orders if o.replaces == old][0].client_order_id
    sc.send(Reconciled(position=LONG_1, orders={old: answer(old, "open"),
                                                 pending: answer(pending, "open")},
                       price=D("100")))
    assert oe.misses(sc.state, old) == 0 and not oe.doubt_of(sc.state, old)
    sc.send(Reconciled(position=LONG_1, orders={pending: answer(pending, "open")},
                       price=D("100")))
    assert sc.state.order(old) is not None  # a first miss again, not a second


def test_a_replaced_stop_that_turns_up_again_is_cancelled_again(core):
    """The glitch passes, but the cancel of the old stop (on the new one's acknowledgement)
    failed: the next reconciliation cancels it again, so two stops never stay resting."""
    sc, old = protected_long(core)
    sc.auto_exchange = False  # the exchange answers nothing: the cancel below is lost
    sc.send(Reconciled(position=LONG_1, orders={}, price=D("100")))
    new = next(o for o in sc.state.orders if o.replaces == old).client_order_id
    d = sc.send(OrderAccepted(client_order_id=new, exchange_id="n1"))
    assert [c.client_order_id for c in d.commands if isinstance(c, CancelOrder)] == [old]
    d = sc.send(Reconciled(position=LONG_1, orders={old: answer(old, "open"),
                                                     new: answer(new, "open")},
                           price=D("100")))
    assert [c.client_order_id for c in d.commands if isinstance(c, CancelOrder)] == [old]


def test_a_stop_that_filled_while_away_is_booked_at_once_from_the_trades(core):
    sc, old = protected_long(core)
    fill = ExternalFill(side="sell", amount=D("1"), price=D("99"), fee=D("0.05"),
                        client_order_id=old)
    d = sc.send(Reconciled(position=None, orders={}, external_fills=(fill,), price=D("98")))
    assert sc.state.phase is Phase.FLAT
    assert [e.realized_pnl for e in d.ledger] == [D("-1")]


def test_a_grid_leg_stop_not_found_once_is_replaced_not_duplicated():
    b = Book()
    b.open_both()
    (stop,) = b.state.orders_of(Side.LONG, GridKind.STOP)
    listed = {o.client_order_id: answer(o.client_order_id, "open") for o in b.state.orders
              if o.client_order_id != stop.client_order_id}
    both = {s: ExchangePosition(side=s, contracts=D(1), entry_price=D(100))
            for s in (Side.LONG, Side.SHORT)}
    b.send(GridReconciled(positions=both, orders=listed, price=D(100)))
    (new,) = b.placed(GridKind.STOP, Side.LONG)
    assert new.replaces == stop.client_order_id
    assert b.state.order(stop.client_order_id) is not None  # kept until confirmed gone
    b.send(OrderAccepted(client_order_id=new.client_order_id, exchange_id="n1"))
    assert b.cancels() == [stop.client_order_id]  # new one rests first, then the old goes


# -- 4. a status that cannot be read is not evidence ----------------------------------------------

def test_a_stop_with_an_unreadable_status_is_kept_and_alerts_if_it_persists(core):
    sc, old = protected_long(core)
    start = len(sc.decisions)
    alerts = []
    for status in ("canceling", None, "PENDING_CANCEL", "canceling", "canceling"):
        d = sc.send(Reconciled(position=LONG_1, orders={old: answer(old, status)},
                               price=D("100")), dt=oe.LOOK_AGAIN_S)
        alerts += [c for c in d.commands if isinstance(c, Escalate)]
    assert sc.state.order(old).status is OrderStatus.OPEN  # not taken for a cancel
    assert not [c for c in commands(sc, start) if isinstance(c, PlaceOrder)]  # no second stop
    assert len(alerts) == 1 and alerts[0].close is False
    sc.send(Reconciled(position=LONG_1, orders={old: answer(old, "open")}, price=D("100")))
    assert not sc.state.doubts


def test_a_grid_order_with_an_unreadable_status_is_kept():
    b = Book()
    b.open_both()
    (tp,) = b.state.orders_of(Side.LONG, GridKind.TP)
    listed = {o.client_order_id: answer(o.client_order_id, "open") for o in b.state.orders}
    listed[tp.client_order_id] = answer(tp.client_order_id, "canceling")
    both = {s: ExchangePosition(side=s, contracts=D(1), entry_price=D(100))
            for s in (Side.LONG, Side.SHORT)}
    b.send(GridReconciled(positions=both, orders=listed, price=D(100)))
    assert b.state.order(tp.client_order_id).status is OrderStatus.OPEN
    assert "LegOrderCanceled" not in b.journal and "OrderReportDeferred" in b.journal


def test_an_entry_filled_without_a_price_is_priced_by_its_listed_position(core):
    sc = pending_entry(core)
    cid = sc.state.orders[0].client_order_id
    d = sc.send(Reconciled(position=LONG_1, orders={cid: answer(cid, "closed", "1", None,
                                                                "0.05")}, price=D("101")))
    assert "EntryShownByPosition" in [j.type for j in d.journal]
    assert sc.state.position.entry_price == D("100")  # the venue's entry price, not 0 or 101
    assert [o.purpose for o in (c.order for c in d.commands if isinstance(c, PlaceOrder))] == [
        OrderPurpose.STOP]
    assert [(e.amount, e.price, e.fee) for e in d.ledger] == [(D("1"), D("100"), D("0.05"))]


def test_a_doubt_that_never_settles_is_looked_at_less_and_less_often(core):
    sc, stop = protected_long(core)
    waits = []
    for _ in range(8):  # the stop keeps being answered filled, without a price
        sc.send(Reconciled(position=LONG_1, orders={stop: answer(stop, "closed", "1")},
                           price=D("100")), dt=1.0)
        due = next(w for w in (5, 10, 20, 40, 80, 120, 240)
                   if oe.recheck_due(sc.state, sc.now + w))
        waits.append(due)
    assert waits == [5, 10, 20, 40, 80, 120, 120, 120]


# -- found by the mutation audit (helper p) -------------------------------------------------------

def test_trades_that_show_part_of_an_entry_do_not_end_it_at_its_first_miss(core):
    """The exchange's trades end an acknowledged order at its first not-found only when they
    make up its whole amount. Part of it traded is not "done": the rest may still fill. Taken
    as done (a mutation of `done_in_trades` survived every test), the entry was cancelled in
    our books at one lookup glitch, the position it opened was adopted as unknown, and the
    rest that filled later went untracked."""
    sc = pending_entry(core)
    entry = sc.state.orders[0]
    cid = entry.client_order_id
    sc.send(OrderAccepted(client_order_id=cid, exchange_id="e1"))
    part = entry.amount * D("0.4")
    fill = ExternalFill(side="buy", amount=part, price=D("100"), fee=D("0.02"),
                        client_order_id=cid)
    listed = ExchangePosition(side=Side.LONG, contracts=part, entry_price=D("100"))
    sc.send(Reconciled(position=listed, orders={}, external_fills=(fill,), price=D("100")))
    live = sc.state.order(cid)
    assert live is not None and live.status is OrderStatus.OPEN  # its rest may still fill
    assert sc.state.position is not None and sc.state.position.position_id == cid
    assert sc.state.position.contracts == part
    assert "PositionAdopted" not in sc.journal_types()


def test_trades_of_another_order_do_not_end_ours_at_its_first_miss(core):
    """Only the order's own fills are evidence that it is done: a trade by hand as large as
    our stop does not end the stop at one not-found (a mutation counting every unbooked fill
    survived every test). Ended so, the stop was dropped from our books at a lookup glitch
    and a second stop placed beside it, not as its replacement."""
    sc, old = protected_long(core)
    sc.auto_exchange = False
    stop = sc.state.order(old)
    assert stop is not None
    by_hand = ExternalFill(side="buy", amount=stop.amount, price=D("101"), fee=D("0.05"))
    listed = ExchangePosition(side=Side.LONG, contracts=LONG_1.contracts + stop.amount,
                              entry_price=D("100.5"))
    sc.send(Reconciled(position=listed, orders={}, external_fills=(by_hand,), price=D("100")))
    assert sc.state.order(old) is not None  # a first miss: kept, looked at again
    assert oe.misses(sc.state, old) == 1


def test_an_intent_not_found_within_the_grace_raises_no_alert(core):
    """A not-found within the send grace resolves itself (the grace runs out, or the entry
    shows): it is looked at again but never alerted, however many looks it takes. Counted as a
    persisting doubt (a mutation that survived every test), three looks 5 s apart raised an
    escalation for an entry that was merely slow to show, and escalations count toward the
    kill switch (README "What happens on each fault")."""
    sc = pending_entry(core)
    cid = sc.state.orders[0].client_order_id
    start = len(sc.decisions)
    for _ in range(evidence.ALERT_AFTER_RECONCILES + 2):
        sc.send(Reconciled(position=None, orders={}, price=D("100")), dt=oe.LOOK_AGAIN_S)
    assert sc.state.order(cid) is not None  # still within the grace: kept pending
    assert not [c for c in commands(sc, start) if isinstance(c, Escalate)]


def test_an_intent_not_found_after_the_clock_stepped_back_ends(core):
    """The grace is measured both ways (`in_grace`: a clock stepped back by more than the grace
    ends it). Measured one way (a mutation that survived every test), an intent that never
    reached the venue stayed pending while the clock was behind its creation, the symbol held
    in ENTERING, taking no new entry, for as long as the step."""
    sc = pending_entry(core)
    cid = sc.state.orders[0].client_order_id
    sc.now -= 10 * oe.SEND_GRACE_S
    sc.send(Reconciled(position=None, orders={}, price=D("100")))
    assert sc.state.order(cid) is None
    assert "IntentNotOnExchange" in sc.journal_types()


def test_a_found_answer_between_two_misses_starts_the_count_again(core):
    """Only not-founds in a row end an acknowledged order: a found answer between them, even
    one whose status cannot be read, resets the count. Counted across it (a mutation that
    survived every test), a stop that had answered was ended at a second, not consecutive,
    lookup glitch."""
    sc, old = protected_long(core)
    sc.auto_exchange = False
    sc.send(Reconciled(position=LONG_1, orders={}, price=D("100")))
    new = next(o for o in sc.state.orders if o.replaces == old).client_order_id
    sc.send(Reconciled(position=LONG_1, orders={old: answer(old, None),
                                                 new: answer(new, "open")}, price=D("100")))
    assert oe.misses(sc.state, old) == 0
    sc.send(Reconciled(position=LONG_1, orders={new: answer(new, "open")}, price=D("100")))
    assert sc.state.order(old) is not None  # a first miss again, not a second


def test_a_stop_that_filled_while_away_is_booked_at_once_after_the_price_came_back(core):
    """The stop's own fill in the trade history books it at its first not-found, wherever the
    price is now. The test above passes by the price alone (through the stop: it ends as
    crossed); without the trades' evidence (a mutation that survived every test) a stop whose
    price came back above it waited a second reconciliation, the gone position recorded
    unconfirmed and a new stop sent for it meanwhile."""
    sc, old = protected_long(core)
    fill = ExternalFill(side="sell", amount=D("1"), price=D("99"), fee=D("0.05"),
                        client_order_id=old)
    d = sc.send(Reconciled(position=None, orders={}, external_fills=(fill,), price=D("100")))
    assert sc.state.phase is Phase.FLAT
    assert [e.realized_pnl for e in d.ledger] == [D("-1")]
    assert "CloseUnconfirmed" not in sc.journal_types()
