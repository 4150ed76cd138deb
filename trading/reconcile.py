"""Reconciliation: bring one symbol's stored state in line with what the exchange says.

The same function runs on a cold start, after a supervisor restart, and periodically. Every fix
is journaled. The shell gathers the facts (our live orders looked up by client order id, the
position, open orders nobody owns, fills nobody explains); this module decides.

A lookup answer is applied only when it is evidence (trading/order_evidence.py, which says
why): a fill is never booked at a made-up price (no average: not applied this round); a
not-found right after an ambiguous send keeps an entry pending for the venue's send grace
(`Rules.send_grace_s`: 60 s on a venue over the network, 0 on the in-process paper exchange,
where a not-found is final at once); one not-found never ends an acknowledged order
(MISSES_TO_END in a row do), but the position's stop is replaced at its first miss, the old
one cancelled by client id once the new one rests; a status that cannot be read changes
nothing. Such an answer is journaled, the loop looks again
within LOOK_AGAIN_S, and a doubt that persists alerts once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from decimal import Decimal
from typing import NamedTuple

from trading import evidence, late_fees
from trading import journal_events as je
from trading import lifecycle as lc
from trading import order_evidence as oe
from trading import trailing_stop as ts
from trading.client_ids import client_order_id
from trading.commands import CancelOrder, Escalate
from trading.decision import Ctx
from trading.events import (
    ExchangeOrder,
    ExchangePosition,
    OrderAccepted,
    OrderCanceled,
    OrderFailed,
    OrderFilled,
    Reconciled,
)
from trading.model import (
    ZERO,
    Order,
    OrderPurpose,
    OrderStatus,
    Phase,
    Position,
    Side,
    SymbolState,
)
from trading.quarantine import SIDE_AGREES_AGAIN, SIDE_MISMATCH, closes_held, mismatched
from trading.stop_rules import arm_protection, cover_stop, guarded, place_stop, standing_stops
from trading.unbooked_fills import closed_elsewhere, owe_unlisted, resized, unbooked

Handler = Callable[..., SymbolState]

UNKNOWN_POSITION = "position on the exchange that storage does not know"
"""The quarantine reason of a position flagged, not adopted (`adopt_unknown_positions = false`):
it still holds one of `max_open_positions` (actors/cores.py `exposure`)."""


def reconcile(
    state: SymbolState, ev: Reconciled, ctx: Ctx,
    on_accepted: Handler, on_filled: Handler, on_canceled: Handler, on_failed: Handler,
) -> SymbolState:
    if ev.price is not None:
        state = replace(state, last_price=ev.price)
    handlers = _Handlers(on_accepted, on_filled, on_canceled, on_failed)
    held, live = state.position, state.orders
    for listed in evidence.in_fill_order(state.orders, ev.orders):
        order = state.order(listed.client_order_id)
        if order is not None:  # still live (a report before it may have ended it)
            state = _order(state, order, ev.orders.get(order.client_order_id), ev, ctx, handlers)
    state = _entry_shown_by_position(state, ev, ctx, handlers)
    state = late_fees.settle(oe.pruned(state), ev.orders, ctx, lc.book_late_fee)
    state = owe_unlisted(state, live, ev, ctx)  # after the looks: none counted for them yet
    closed = held if held is not None and state.position is None else None
    state = _position(state, ev, ctx, closed)
    for orphan in ev.orphans:
        if orphan.reduce_only and (_left_alone(state, ev) or (
                _bare(state, ctx) and orphan.trigger_price is not None)):
            continue  # it can only reduce the position: its protection until ours rests
        ctx.record(je.OrphanCanceled(order=orphan.client_order_id, exchange_id=orphan.exchange_id))
        ctx.emit(CancelOrder(client_order_id=orphan.client_order_id,
                             exchange_id=orphan.exchange_id))
    _cancel_strays(state, ctx)
    unprotected = not standing_stops(state)
    if guarded(state) and unprotected:  # a refused stop keeps its backoff (stop_retry)
        state = replace(state, needs_stop=True,
                        next_stop_at=state.next_stop_at if state.stop_refusals else 0.0)
    stalled = state.phase is Phase.CLOSING and state.next_close_at is None
    if stalled and not closes_held(state) and not state.live_orders(OrderPurpose.CLOSE):
        state = replace(state, next_close_at=ctx.now)
    return state


def _cancel_strays(state: SymbolState, ctx: Ctx) -> None:
    """A resting stop (or close) of a position that is no longer ours to protect: its cancel
    failed when the position closed (a timeout, a 429). Ask again on every reconciliation until
    the exchange confirms it; it is never counted as the current position's protection. So is
    a stop a resting newer one replaces (`_superseded`)."""
    asked = {c.client_order_id for c in ctx.commands if isinstance(c, CancelOrder)}
    for order in state.strays() + _superseded(state):
        if order.client_order_id in asked:
            continue  # cancelled in this decision already (the position closed just now)
        ctx.record(je.OrphanCanceled(order=order.client_order_id, exchange_id=order.exchange_id))
        ctx.emit(CancelOrder.of(order))


def _left_alone(state: SymbolState, ev: Reconciled) -> bool:
    """A position listed that the bot does not manage (`adopt_unknown_positions = false`), or
    one on the other side than ours (SIDE_MISMATCH: a person decides, and our stop cannot
    close it): the reduce-only orders on the symbol (its owner's stop) stay. Cancelled as
    orphans, that position was left without any stop; once it is gone they go."""
    theirs, mine = ev.position, state.position
    if theirs is None or not state.quarantined:
        return False
    if state.quarantine_reason == UNKNOWN_POSITION:
        return mine is None
    return (state.quarantine_reason == SIDE_MISMATCH and mine is not None
            and theirs.side is not mine.side)


def _bare(state: SymbolState, ctx: Ctx) -> bool:
    """The position we hold has no stop of ours resting (one just sent, or refused): a
    reduce-only order on the symbol (an adopted position's own stop, one of ours the books
    lost) is all that protects it, and goes at the first reconciliation that finds ours there.
    Cancelled in the adopting reconciliation, a refused stop of ours left the position bare.
    (Bot-side stops rest nowhere: there, as before, such orders go at once.) Only a stop (an
    order with a trigger) protects: a reduce-only limit (a take-profit by hand) goes at once,
    as in the emergency close (found by review: kept while ours was gone and the price through
    its level, it refused the bot's every close, Binance -4118, until the symbol escalated)."""
    return (guarded(state) and state.active_stop() is None
            and not ctx.rules.risk.bot_side_stops)


class _Handlers(NamedTuple):
    accepted: Handler
    filled: Handler
    canceled: Handler
    failed: Handler


def _superseded(state: SymbolState) -> list[Order]:
    """Resting stops of the position that a resting newer one replaces (a trailing move, a
    stop re-placed after a miss): their cancel on the new one's acknowledgement failed, or
    the old one turned up again after a lookup glitch. Cancelled again, so two never rest.
    So is one a tighter resting stop, as large, covers: an old stop whose cancel failed two
    moves ago, which no resting stop names as replaced any more (found by review: it rested
    for the position's life, one more conditional order against the venue's cap per such
    move)."""
    resting = [o for o in state.live_orders(OrderPurpose.STOP) if o.status is OrderStatus.OPEN]
    replaced = {o.replaces for o in resting if o.replaces}
    pos = state.position

    def covered(old: Order) -> bool:
        return pos is not None and old.stop_price is not None and any(
            o.stop_price is not None and o.remaining >= old.remaining
            and ts.better(pos.side, o.stop_price, old.stop_price) for o in resting)

    return [o for o in resting if o.client_order_id in replaced or covered(o)]


def _order(state: SymbolState, order: Order, found: ExchangeOrder | None, ev: Reconciled,
           ctx: Ctx, h: _Handlers) -> SymbolState:
    """One live order's lookup answer, applied only when it is evidence
    (trading/order_evidence.py)."""
    cid, status = order.client_order_id, order.status
    if found is None:
        return _not_found(state, order, ev, ctx, h)
    if found.status not in oe.READABLE_STATUSES:
        return oe.defer(state, order, oe.unreadable(found.status), ctx)
    if found.status == "open" and _listed_ahead(state, order, found, ev):
        return oe.defer(state, order, oe.LIST_AHEAD, ctx)
    if found.filled > ZERO:
        average = oe.fill_average(order, found.filled, found.average)
        if average is None:
            return oe.defer(state, order, oe.NO_PRICE, ctx)
        return h.filled(oe.settled(state, cid), OrderFilled(
            client_order_id=cid, exchange_id=found.exchange_id, filled=found.filled,
            average=average, fee=found.fee, complete=found.status != "open",
            fee_known=found.fee_known, filled_at=found.last_fill_at,
            trigger_price=found.trigger_price), ctx)
    state = oe.settled(state, cid)
    if found.status == "open":
        accepted = OrderAccepted(client_order_id=cid, exchange_id=found.exchange_id)
        return h.accepted(state, accepted, ctx)
    if status is OrderStatus.PENDING:  # never acknowledged, and the exchange did not execute it
        failed = OrderFailed(client_order_id=cid, error=f"exchange status {found.status}",
                             never_reached=False)
        return h.failed(state, failed, ctx)
    return h.canceled(state, OrderCanceled(client_order_id=cid), ctx)


def _listed_ahead(state: SymbolState, order: Order, found: ExchangeOrder,
                  ev: Reconciled) -> bool:
    """Our books are flat and the exchange lists a position on the side of this live entry,
    whose lookup shows nothing more filled: the list is ahead of the lookup (the entry's rest
    filled; or the list lags the stop fill that closed its part). Not adopted (the entry's
    report books it), but not an answer to settle on either: settled, the listed position
    waited without a stop of ours for the report or the next periodic reconciliation (300 s
    while the streams are up), and one that lasted (a person's position on that side) was
    never said (found by review). In doubt, it is looked at again within LOOK_AGAIN_S and
    alerts once if it persists. One the list shows no larger than an entry with nothing
    applied yet is booked from the list (`_entry_shown_by_position`)."""
    theirs = ev.position
    if order.purpose is not OrderPurpose.ENTRY or state.position is not None or theirs is None \
            or Side.entered_by(order.side) is not theirs.side or found.filled > order.filled:
        return False
    return not (state.phase is Phase.ENTERING and order.filled == ZERO
                and theirs.contracts <= order.amount)


def _not_found(state: SymbolState, order: Order, ev: Reconciled, ctx: Ctx,
               h: _Handlers) -> SymbolState:
    """A pending intent: proof it never got there once the send grace ran out. An acknowledged
    order: gone at the MISSES_TO_END-th miss in a row, or at once when the exchange's trades
    show it done (they book it: `_position`); a stop of the open position is replaced at
    its first miss (`_replace_missing_stop`)."""
    cid = order.client_order_id
    if oe.sent_only(order):
        if oe.in_grace(order, ctx.now, ctx.rules.send_grace_s):
            return oe.defer(state, order, oe.NOT_FOUND_YET, ctx, missed=True)
        ctx.record(je.IntentNotOnExchange(order=cid))
        return h.failed(oe.settled(state, cid), OrderFailed(
            client_order_id=cid, error="not found on exchange", never_reached=True,
            lost=True, unseen=True), ctx)
    done = oe.done_in_trades(order, ev.external_fills)
    if done or oe.misses(state, cid) + 1 >= oe.MISSES_TO_END or _crossed(state, order):
        return h.canceled(oe.settled(state, cid), OrderCanceled(client_order_id=cid), ctx)
    state = oe.defer(state, order, oe.NOT_FOUND, ctx, missed=True)
    return _replace_missing_stop(state, order, ctx)


def _entry_shown_by_position(state: SymbolState, ev: Reconciled, ctx: Ctx,
                             h: _Handlers) -> SymbolState:
    """An entry kept pending by the send grace, or acknowledged, whose lookup lags (not found,
    or open with nothing filled: a market order the position shows filled), or reported filled
    without a price, while the exchange already lists a position on its side, no larger than
    it: that position is the evidence it landed, and its entry price the price it filled at.
    (An acknowledged one waited for its own report or a second not-found lookup, the listed
    position without a stop meanwhile; found by review.)
    Waiting for the lookup left the position without a stop for up to the whole grace (60 s
    on a venue; found by review), so the entry is booked now from the position (contracts and
    entry price as the venue lists them), protected at once, and its fee is looked up later
    (trading/late_fees.py); a position smaller than the entry is its part so far, and the entry
    stays live for the rest (`entry_done`). Anything else (a larger position, another side) is
    left to the position rules below."""
    theirs = ev.position
    if state.position is not None or theirs is None or state.phase is not Phase.ENTERING:
        return state
    for order in state.live_orders(OrderPurpose.ENTRY):
        side = Side.entered_by(order.side)
        found = ev.orders.get(order.client_order_id)
        lagging = found is None or (found.status == "open" and found.filled == ZERO)
        priceless = found is not None and found.filled > ZERO and found.average is None
        if (lagging or priceless) and order.filled == ZERO and side is theirs.side \
                and ZERO < theirs.contracts <= order.amount:
            cid = order.client_order_id
            ctx.record(oe.EntryShownByPosition(order=cid, contracts=theirs.contracts,
                                               entry_price=theirs.entry_price))
            told = priceless and found is not None and found.fee_known  # its fee is this fill's
            return h.filled(oe.settled(state, cid), OrderFilled(
                client_order_id=cid, exchange_id=found.exchange_id if found else None,
                filled=theirs.contracts, average=theirs.entry_price,
                fee=found.fee if found and told else ZERO, fee_known=told,
                complete=entry_done(found, theirs.contracts, order.amount)), ctx)
    return state


def entry_done(found: ExchangeOrder | None, shown: Decimal, amount: Decimal) -> bool:
    """Whether an entry a position shows landed is done: its lookup says it ended, or the
    position holds all of it. A smaller one is its part so far: the rest may still fill, and
    its own report books it (taken as done, that report was dropped; found by review)."""
    return shown >= amount or (found is not None and found.status != "open")


def _crossed(state: SymbolState, order: Order) -> bool:
    """A stop of the open position whose level the price is already through: no stop can
    rest there, it ends at its first miss and the close protects (trading/decide.py
    `protect`)."""
    pos, price, level = state.position, state.last_price, order.stop_price
    if pos is None or price is None or level is None or not state.owns(order):
        return False
    return ts.crossed_against(pos.side, price, level)


def _replace_missing_stop(state: SymbolState, order: Order, ctx: Ctx) -> SymbolState:
    """The open position's stop was not found once: a new one at the same level is placed at
    once, and the old one is cancelled by client id when the new one rests (on_accepted), as a
    trailing move does. Gone, the cancel finds nothing (harmless); there after all, it goes."""
    level, pos = order.stop_price, state.position
    if state.phase is not Phase.OPEN or pos is None or not state.owns(order) or level is None \
            or mismatched(state):
        return state
    stops = state.live_orders(OrderPurpose.STOP)
    if any(o.replaces == order.client_order_id for o in stops):
        return state  # replaced already (a move in flight, or an earlier miss)
    if any(o is not order and o.status is OrderStatus.OPEN and o.stop_price is not None
           and not ts.better(pos.side, level, o.stop_price) for o in stops):
        # a resting stop at least as tight covers it (an old stop whose cancel failed, two
        # moves ago): replaced, the books' stop fell back to the old level (found by review)
        return state
    ctx.record(je.StopRequested(stop_price=level))
    return place_stop(state, level, ctx, replaces=order.client_order_id)


def _position(state: SymbolState, ev: Reconciled, ctx: Ctx,
              closed: Position | None = None) -> SymbolState:
    """`closed`: the position this reconciliation's own order answers closed (its stop's fill,
    a close's): the position list was read before those answers, so a position it shows on
    that side is the one just closed, listed by a read that lags the fills (Binance's
    positionRisk behind the user data stream that made the actor look; a stale read), not one
    to adopt. Adopted, it came back at once as a phantom with a stop on a flat symbol, and no
    fill could ever close it again: believed open for good. One that really is there is seen
    by the next look (the position stream, the sweep, the next reconciliation)."""
    mine, theirs = state.position, ev.position
    if mine is None and theirs is not None and closed is not None \
            and theirs.side is closed.side:
        ctx.record(je.PositionListedAfterClose(side=theirs.side, contracts=theirs.contracts))
        return state
    if mine is not None and theirs is None:
        exits = (f.amount for f in unbooked(state, ev, mine.side.exit_order_side))
        if not evidence.covered(mine.contracts, exits):
            return _unconfirmed(state, ev, ctx)
        return closed_elsewhere(state, ev, ctx)
    if state.unconfirmed is not None:  # the position is listed again (or gone for good)
        state = replace(state, unconfirmed=None)
    if mine is None and theirs is not None:
        return _listed_not_ours(state, theirs, ctx)
    if mine is not None and theirs is not None:
        state = _both_listed(state, mine, theirs, ev, ctx)
    return state


def _listed_not_ours(state: SymbolState, theirs: ExchangePosition, ctx: Ctx) -> SymbolState:
    """A position the exchange lists while our books hold none: left while an entry of ours
    may still explain it, flagged (quarantined) when `adopt_unknown_positions` is off,
    adopted with a stop otherwise. So is one on the other side while our entry is in flight:
    a read that lags shows the position just closed; adopted, our entry's fill was added to it
    (books short 2, the venue long 1) and the long had no stop of its side (tests/actors/
    test_entering_opposite_position_not_adopted.py)."""
    if state.phase is Phase.ENTERING and state.live_orders(OrderPurpose.ENTRY):
        return state  # our entry is still being resolved
    entries = state.live_orders(OrderPurpose.ENTRY)
    if any(Side.entered_by(o.side) is theirs.side for o in entries):
        # so is one while flat (the rest of an entry whose part was stopped out, its cancel
        # not landed), its lookup lagging the list: adopted, its own report added the same
        # fill again and the books held it twice (found by review)
        return state
    if not ctx.rules.risk.adopt_unknown_positions:
        if state.quarantine_reason != UNKNOWN_POSITION:  # once per episode, not every look
            ctx.record(je.UnknownPositionFlagged(side=theirs.side, contracts=theirs.contracts))
        return replace(state, quarantined=True, quarantine_reason=UNKNOWN_POSITION)
    return _adopt(state, theirs, ctx)


def _both_listed(state: SymbolState, mine: Position, theirs: ExchangePosition, ev: Reconciled,
                 ctx: Ctx) -> SymbolState:
    """Our position and the exchange's: on opposite sides a person decides (quarantined,
    escalated once); otherwise its size followed, an entry that ended made open and
    protected, and its stop covering it."""
    if theirs.side is not mine.side:  # our stop cannot close theirs: a person decides
        if state.quarantine_reason != SIDE_MISMATCH:  # once per episode, not every look
            ctx.record(je.PositionSideMismatch(stored=mine.side, exchange=theirs.side))
            ctx.emit(Escalate(reason=f"{SIDE_MISMATCH}: {theirs.side.value} "
                              f"{theirs.contracts} there, {mine.side.value} in our books",
                              attempts=1, last_error=None, close=False))
        return replace(state, quarantined=True, quarantine_reason=SIDE_MISMATCH)
    if mismatched(state):  # a person set it right: our stop protects it again
        state = replace(state, quarantine_reason=SIDE_AGREES_AGAIN)
    waited = state.resize_waited
    state = replace(state, resize_waited=False)
    if theirs.contracts != mine.contracts:
        state = resized(state, theirs.contracts, ev, ctx, waited)
    if state.phase is Phase.ENTERING and not state.live_orders(OrderPurpose.ENTRY):
        state = arm_protection(lc.to_phase(state, Phase.OPEN), ctx)
    return cover_stop(state, ctx)


def _unconfirmed(state: SymbolState, ev: Reconciled, ctx: Ctx) -> SymbolState:
    """No position listed, and no fill that closed it: an absence is not evidence. The position
    stays open in our books, its stop stays on the exchange, and the next reconciliation looks
    again; a contradiction that persists raises one alert (no emergency close: the position may
    well be open and protected)."""
    pos = state.position
    assert pos is not None
    episode = evidence.note(state.unconfirmed, ctx.now)
    ctx.record(je.CloseUnconfirmed(contracts=pos.contracts, answers=episode.count))
    if episode.alert_due(ctx.now):
        reason = evidence.alert_reason(f"{pos.side.value} position {pos.position_id}", episode)
        ctx.record(je.CloseConfirmationAlerted(reason=reason))
        ctx.emit(Escalate(reason=reason, attempts=episode.count, last_error=None, close=False))
        episode = replace(episode, alerted=True)
    return replace(state, unconfirmed=episode)


def _adopt(state: SymbolState, theirs: ExchangePosition, ctx: Ctx) -> SymbolState:
    """A position on the exchange that storage does not know, taken over and protected."""
    seq = state.order_seq + 1
    r = ctx.rules  # the id is unique in the account: positions are keyed by it alone
    adopted = client_order_id(r.account, r.id_tag, r.symbol, seq, OrderPurpose.ENTRY)
    pos = Position(position_id=f"adopted-{adopted}", side=theirs.side,
                   contracts=theirs.contracts, entry_price=theirs.entry_price,
                   opened_at=ctx.now)
    ctx.record(je.PositionAdopted(side=theirs.side, contracts=theirs.contracts,
                                  entry_price=theirs.entry_price))
    state = replace(state, order_seq=seq, position=pos)
    if state.phase is not Phase.OPEN:  # an open phase without a position: keep it
        state = lc.to_phase(state, Phase.OPEN)
    return arm_protection(state, ctx)
