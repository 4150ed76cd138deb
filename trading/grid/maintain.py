"""After every grid event: bring the orders in line with the legs. Each open leg gets a stop
covering it (or a bot-side close if its stop level is crossed without one) and a take-profit;
flat legs open (or reopen once every cancel is confirmed); and the next level rests on the
exchange while levels remain, recalculated after a move past `recalc_pct`."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from trading import trailing_stop as ts
from trading.decide import skip_kind
from trading.gate import waits_for_reconciliation
from trading.grid import journal_events as ge
from trading.grid.context import GridCtx
from trading.grid.model import GridKind, GridState
from trading.grid.rules import OPEN_RETRY_MAX_S, STOP_RETRY_MAX_S
from trading.order_evidence import sent_only
from trading.orders import Order, OrderStatus
from trading.primitives import ZERO, Side, waiting
from trading.reconcile import UNKNOWN_POSITION
from trading.transitions import LegPhase, leg_change

HUNDRED = Decimal(100)


def maintain(state: GridState, ctx: GridCtx) -> GridState:
    price = state.last_price
    if price is None:
        return state
    state = _retry_cancels(state, ctx)
    for side in (Side.LONG, Side.SHORT):
        state = _release_stops(state, side, ctx)
        if state.leg(side).is_open:
            state = _protect(state, side, price, ctx)
            state = _take_profit(state, side, ctx)
    state = _open_legs(state, price, ctx)
    for side in (Side.LONG, Side.SHORT):
        if state.leg(side).is_open:
            state = _next_level(state, side, price, ctx)
    return state


def stop_due(state: GridState, now: float, retry_s: float) -> bool:
    """`maintain` places a stop now: an open leg has no stop of its current position resting
    or on its way, its price has not crossed the leg's stop level (a close is due then, on its
    own backoff) and no failed order holds the leg back (`_throttled`). The actor sets a
    reconciliation waiting for rate budget aside for it (actors/symbol_actor.py `_urgent`)."""
    price = state.last_price
    for side in (Side.LONG, Side.SHORT):
        leg = state.leg(side)
        if not leg.is_open or price is None or leg.stop_price is None:
            continue
        if ts.crossed_against(side, price, leg.stop_price) or waiting(
                now, leg.stop_retry_at, max(retry_s, STOP_RETRY_MAX_S)):
            continue
        if not _current_stops(state, side):
            return True
    return False


def stop_unresolved(state: GridState) -> bool:
    """An open leg's only stops of its current position are intents never acknowledged (a kill
    between commit and send), or it has none resting and a close never acknowledged: only the
    reconciliation's lookup tells, so nothing sets it aside (trading/stop_rules.py's)."""
    legs = [(s, _current_stops(state, s)) for s in (Side.LONG, Side.SHORT)]
    return any(state.leg(s).is_open and all(map(sent_only, st))
               and any(map(sent_only, st + _active(state.orders_of(s, GridKind.CLOSE))))
               for s, st in legs)


def closes_held(state: GridState) -> bool:
    """Quarantined for a reason that holds the bot's own closes: an escalation (the emergency
    close owns the legs now), an unreadable state. Not a position it does not know on the
    exchange (UNKNOWN_POSITION, `adopt_unknown_positions = false`): that is the other side's
    position in hedge mode, no escalation, and no emergency close runs for it; our open leg
    past its stop without one is closed as ever (found by review: held back, it stayed open
    past its stop with nothing protecting it until a person looked)."""
    return state.quarantined and state.quarantine_reason != UNKNOWN_POSITION


def _retry_cancels(state: GridState, ctx: GridCtx) -> GridState:
    for order in state.orders:
        at = order.cancel_requested_at
        if at is not None and not waiting(ctx.now, at + ctx.rules.retry_s, ctx.rules.retry_s):
            state = ctx.cancel(state, order)
    return state


def _release_stops(state: GridState, side: Side, ctx: GridCtx) -> GridState:
    """Cancel the stops of the side's earlier position once they protect nothing: no level of
    the side is live any more (one could still fill into a new position there), and a leg
    reopened meanwhile has its own stop resting."""
    stale = [o for o in state.orders_of(side, GridKind.STOP)
             if o.cancel_requested_at is None and not state.of_current(o)]
    if not stale or state.orders_of(side, GridKind.ADD):
        return state
    if state.leg(side).is_open and not state.covered(side, ZERO):
        return state
    for order in stale:
        state = ctx.cancel(state, order)
    return state


def _throttled(state: GridState, side: Side, ctx: GridCtx) -> bool:
    """After a failed stop or take-profit on this leg, a take-profit or level waits retry_s
    (a take-profit refused again and again, longer: `GridRules.stop_retry`)."""
    return waiting(ctx.now, state.leg(side).retry_at, max(ctx.rules.retry_s, STOP_RETRY_MAX_S))


def _stop_throttled(state: GridState, side: Side, ctx: GridCtx) -> bool:
    """After a failed stop, the next stop waits its backoff (nothing else holds it back)."""
    return waiting(ctx.now, state.leg(side).stop_retry_at,
                   max(ctx.rules.retry_s, STOP_RETRY_MAX_S))


def _level_throttled(state: GridState, side: Side, ctx: GridCtx) -> bool:
    """After a failed level, the next one waits its backoff (and any failed stop or TP)."""
    r = ctx.rules
    return _throttled(state, side, ctx) or waiting(
        ctx.now, state.leg(side).level_retry_at, max(r.retry_s, r.close_backoff_max_s))


def _active(orders: list[Order]) -> list[Order]:
    return [o for o in orders if o.cancel_requested_at is None]


def _current_stops(state: GridState, side: Side) -> list[Order]:
    """The leg's stops of its current position, resting or on their way (not being cancelled)."""
    return [o for o in _active(state.orders_of(side, GridKind.STOP)) if state.of_current(o)]


def _protect(state: GridState, side: Side, price: Decimal, ctx: GridCtx) -> GridState:
    leg = state.leg(side)
    assert leg.stop_price is not None
    # the current position's: an earlier position's stop kept for a level that could still
    # fill (leg_exit.py `close_leg`) is not this leg's (`_release_stops` cancels it)
    stops = _current_stops(state, side)
    # a leg larger than one order may carry (adopted after buys by hand): its stop carries the
    # maximum (part of it covered; not `protected`) and its close goes in slices of it
    most = ctx.rules.market.capped
    cover = most(_cover(state, side, price, ctx))
    if ts.crossed_against(side, price, leg.stop_price) and not state.protected(side):
        # only a failed close delays the next close; a rejected stop never does (issue 16 item 2)
        closing = state.orders_of(side, GridKind.CLOSE)
        for close in [o for o in _active(closing) if o.status is OrderStatus.PENDING
                      and o.amount > most(leg.contracts)]:  # the leg shrank before it went
            state = ctx.cancel(state, close)  # out (a TP's fill told by its cancel's answer)
        longest = max(ctx.rules.retry_s, ctx.rules.close_backoff_max_s)
        if closes_held(state) or closing or waiting(ctx.now, leg.close_retry_at, longest):
            return state
        ctx.record(ge.StopCrossedUnprotected(leg=side, stop_price=leg.stop_price, price=price))
        # the attempt is counted and committed with the close, before it is sent (incident 2)
        state = state.with_leg(replace(leg, close_attempts=leg.close_attempts + 1))
        # the leg's take-profits go first (Binance counts resting closing limits against a
        # new close, -4118); one whose cancel failed is asked again (review g1)
        for tp in state.orders_of(side, GridKind.TP):
            if tp.cancel_requested_at is None or tp.cancel_requested_at < ctx.now:
                state = ctx.cancel(state, tp)
        return ctx.place(state, side, GridKind.CLOSE, side.exit_order_side, most(leg.contracts))
    # through its level the resting stop fires: no resize at a passed level (Bybit 110093, s49)
    if _stop_throttled(state, side, ctx) or ts.crossed_against(side, price, leg.stop_price):
        return state
    if not stops:
        return ctx.place(
            state, side, GridKind.STOP, side.exit_order_side, cover, price=leg.stop_price
        )
    newest = stops[-1]
    if newest.remaining != cover and not any(o.status is OrderStatus.PENDING for o in stops):
        return ctx.place(
            state,
            side,
            GridKind.STOP,
            side.exit_order_side,
            cover,
            price=leg.stop_price,
            replaces=newest.client_order_id,
        )
    return state


def _cover(state: GridState, side: Side, price: Decimal, ctx: GridCtx) -> Decimal:
    """What the leg's stop must cover: the leg, plus what its level can still add (the resting
    level's unfilled part, or the next level before it is placed). A level fills while the bot
    is down too (a crash, a restart), and a stop sized to the leg alone then closed only part of
    it and left the rest without a stop until the bot was back (found by a chaos review). The
    stop is reduce-only: the venue cuts it to the position when it triggers, and a level rests
    between the leg's entry and its stop, so it has filled by the time the stop is reached."""
    leg = state.leg(side)
    adds = [o for o in state.orders_of(side, GridKind.ADD) if state.of_current(o)]
    if adds:
        return leg.contracts + sum((o.amount - o.filled for o in adds), Decimal(0))
    # a level waiting out a refusal is still about to rest: the stop keeps covering it (shrunk
    # and grown again around every retry, the stop was replaced twice per refused level)
    due = _level_due(state, side, price, ctx, waits=False)
    return leg.contracts + (due[1] if due is not None else Decimal(0))


def _take_profit(state: GridState, side: Side, ctx: GridCtx) -> GridState:
    leg = state.leg(side)
    if state.quarantined or leg.entry_price is None or _throttled(state, side, ctx):
        return state
    price, stop = state.last_price, leg.stop_price
    if state.orders_of(side, GridKind.CLOSE) or (price and stop
                                                 and ts.crossed_against(side, price, stop)):
        return state  # being closed, its close due or its stop firing: no closing limit (g1, s49)
    target = ts.target_price(side, leg.entry_price, ctx.rules.take_profit_pct, ctx.rules.market)
    amount = ctx.rules.market.capped(leg.contracts)  # one order carries at most the maximum
    tps = _active(state.orders_of(side, GridKind.TP))
    if len(tps) < len(state.orders_of(side, GridKind.TP)):  # one whose cancel is unanswered
        return state  # (failed: a timeout) may still rest: none beside it (two rested, review)
    if not tps:
        return ctx.place(state, side, GridKind.TP, side.exit_order_side, amount, price=target)
    pending = [o for o in tps if o.status is OrderStatus.PENDING]
    larger = [o for o in pending if o.amount - o.filled > amount]
    if larger:
        # decided for a larger leg, which shrank before it went out (the one it replaces filled
        # in part as its cancel landed): taken back (review g1: it went out for the old size)
        for order in larger:
            state = ctx.cancel(state, order)
        return state
    newest = tps[-1]
    # what still rests of it: a take-profit filled in part covers the rest of the leg as it is
    resting = newest.amount - newest.filled
    if (newest.price, resting) == (target, amount) or pending:
        return state
    # the old one goes first, the new one once its cancel was answered (the next pass): Binance
    # counts a resting closing limit against a new one, -4118 (found by review)
    return ctx.cancel(state, newest)


def _entries_allowed(state: GridState) -> bool:
    return not (state.quarantined or state.entries_blocked)


def _open_legs(state: GridState, price: Decimal, ctx: GridCtx) -> GridState:
    r = ctx.rules
    longest = max(r.open_retry_s, OPEN_RETRY_MAX_S, r.reopen_after_stop_s)
    if not _entries_allowed(state) or waiting(ctx.now, state.next_open_at, longest):
        return state
    if state.reopen:
        if any(_awaited(state, o) for o in state.orders):
            return state  # cancels not confirmed yet: no orphan may fill into the new leg
        if state.price_seq <= state.reopen_after_seq:
            return state  # never reopen on the price the leg closed on: wait for a fresh one
        state = _clear_reopen(state, ctx)
    for side in (Side.LONG, Side.SHORT):
        leg = state.leg(side)
        if leg.is_open or state.orders_of(side, GridKind.OPEN):
            continue
        amount = leg.ref_qty or r.market.amount_down(r.order_size_usdt / price)
        skip = None if r.market.tradable(amount, price) else (
            f"size {amount} is {r.market.below_minimum(amount, price)}")
        if r.market.above_max(amount):  # the venue refuses it: never sent to be refused
            skip = f"size {amount} is above the market maximum of {r.market.max_amount}"
        if skip is not None:
            state = _not_opened(state, side, skip, False, ctx)
            return replace(state, next_open_at=ctx.now + r.open_retry_s)
        margin = r.market.entry_margin(amount, price, r.leverage)  # its fee too (review)
        refused = ctx.admit("grid_leg", margin)  # the account's entry gate, asked last
        if refused is not None:
            state = _not_opened(state, side, refused, True, ctx)
            if waits_for_reconciliation(refused):  # ends with the reconciliation: it opens the leg
                return state  # (it waited open_retry_s: a flat grid reopened 10 s late at start)
            return replace(state, next_open_at=ctx.now + r.open_retry_s)
        state = replace(state, open_skipped_for=None)
        state = ctx.place(state, side, GridKind.OPEN, side.entry_order_side, amount, margin=margin)
    return state


def _not_opened(state: GridState, side: Side, reason: str, refused: bool,
                ctx: GridCtx) -> GridState:
    """A leg not opened (`refused` by the account's gate, else skipped for its size), journaled
    once per leg and reason (its figures left out), as the one-way core's skipped entries
    (found by review: a lasting one, the account's position cap reached, was journaled at
    every retry: every 10 s per flat leg, for as long as it held)."""
    key = f"{side.value} {'refused' if refused else 'skipped'}: {skip_kind(reason)}"
    if state.open_skipped_for != key:
        ctx.record(ge.EntryRefused(leg=side, reason=reason) if refused
                   else ge.OpenSkipped(leg=side, reason=reason))
    return replace(state, open_skipped_for=key)


def _awaited(state: GridState, order: Order) -> bool:
    """An order whose cancel the reopen waits for: a level (any leg's), or an order of a
    closed side's earlier position. A side that a late level fill reopened has its new
    position's stop and take-profit: no orphans of the closed one (found by review: waited
    for, the reopen never cleared while that leg lived, and neither leg placed a level)."""
    if order.kind is GridKind.ADD:
        return True
    if order.leg not in state.reopen:
        return False
    leg = state.leg(order.leg)
    return not (leg.is_open and order.position_id == leg.position_id)


def _clear_reopen(state: GridState, ctx: GridCtx) -> GridState:
    """Every cancel of the closed legs is confirmed: closed -> flat (a leg that a late fill
    reopened meanwhile is open already and stays so)."""
    for side in state.reopen:
        if not state.leg(side).is_open:
            leg_change(f"{state.symbol} {side.value}", state.leg_phase(side), LegPhase.FLAT)
    ctx.record(ge.ReopenCleared(sides=",".join(s.value for s in state.reopen)))
    return replace(state, reopen=())


def _level_due(
    state: GridState, side: Side, price: Decimal, ctx: GridCtx, waits: bool = True
) -> tuple[Decimal, Decimal] | None:
    """The leg's next level (price, amount) when it would be placed now, stop permitting;
    else None. Only then does the stop cover it: a stop larger than the position rests only
    while a level is about to rest or rests (the venue cuts a reduce-only stop to the position
    when it triggers; a level held back by blocked entries or a price past it is no reason to
    lean on that). Held back without shrinking the stop (2 replacements for a close of the
    other leg): by its reopen, facts not current (reconcile_retry.py), the venue listing it flat."""
    r, leg = ctx.rules, state.leg(side)
    if not _entries_allowed(state) or leg.level >= r.levels or leg.ref_qty is None:
        return None
    if waits and (_level_throttled(state, side, ctx) or not ctx.reconciled
                  or state.unconfirmed_of(side) is not None):
        return None
    target = _level_target(state, side, price, ctx)
    amount = _level_amount(state, side, ctx)
    if not r.market.tradable(amount, target) or _too_large(state, side, amount, ctx):
        return None
    if leg.stop_price is not None and ts.crossed_against(side, target, leg.stop_price):
        return None  # a level at or beyond the stop would add where the leg must already be closed
    return (target, amount) if _may_rest(state, side, target, price) else None


def _next_level(state: GridState, side: Side, price: Decimal, ctx: GridCtx) -> GridState:
    r = ctx.rules
    leg = state.leg(side)
    adds = state.orders_of(side, GridKind.ADD)
    if state.quarantined:  # opens nothing new (rule 2): a resting level neither, as the kill
        for add in _active(adds):  # switch (found by review: it rested on, and could fill)
            state = ctx.cancel(state, add)
        return state
    if not state.covered(side, ZERO):
        # no stop rests for this leg (rejected, or not acknowledged yet): nothing may add to it,
        # the rest of its last level filled in part neither (found by review: checked after
        # the return of a leg with no level left to place, that rest rested on)
        for add in _active(adds):
            state = ctx.cancel(state, add)
        return state
    if not _entries_allowed(state) or state.reopen or leg.level >= r.levels or leg.ref_qty is None:
        return state
    if adds:
        return _recalculate(state, side, adds[-1], price, ctx)
    due = _level_due(state, side, price, ctx)
    if due is None:
        return _refuse_level(state, side, price, ctx)
    # placed only once a stop rests for the leg and the level together (`_cover`)
    if not state.covered(side, leg.contracts + due[1]):
        return state
    target, amount = due
    level = leg.level + 1
    return ctx.place(
        state,
        side,
        GridKind.ADD,
        side.entry_order_side,
        amount,
        price=target,
        level=level,
        margin=r.market.entry_margin(amount, target, r.leverage, maker=True),
    )


def _level_target(state: GridState, side: Side, price: Decimal, ctx: GridCtx) -> Decimal:
    """The leg's next level's price: step_pct against the leg from its anchor."""
    leg = state.leg(side)
    anchor = leg.anchor or leg.entry_price or price
    return ts.initial_stop(side, anchor, ctx.rules.step_pct, ctx.rules.market)


def _level_amount(state: GridState, side: Side, ctx: GridCtx) -> Decimal:
    leg, r = state.leg(side), ctx.rules
    assert leg.ref_qty is not None
    return r.market.amount_down(leg.ref_qty * r.size_multiplier ** (leg.level + 1))


def _too_large(state: GridState, side: Side, amount: Decimal, ctx: GridCtx) -> bool:
    """A level that would make the leg larger than the market's maximum order amount: the
    stop covering the leg and the level (`_cover`), and the leg's take-profit and close, would
    be refused by the venue (the stop at every retry: the leg left without one)."""
    return ctx.rules.market.above_max(state.leg(side).contracts + amount)


def _refuse_level(state: GridState, side: Side, price: Decimal, ctx: GridCtx) -> GridState:
    """The leg's levels end where the next would make it too large (`_too_large`) or is below
    the market's minimums at its price (found by review: with order_size_usdt near the minimum
    order value, a long's levels, each below it, were never placed and nothing said why):
    journaled once per leg and level (not persisted: a restart journals it once more), never
    sent."""
    leg, market = state.leg(side), ctx.rules.market
    amount = _level_amount(state, side, ctx)
    target = _level_target(state, side, price, ctx)
    key = (leg.position_id, leg.level + 1)
    if key in state.levels_refused:
        return state
    name = f"level {leg.level + 1} of {amount}"
    if _too_large(state, side, amount, ctx):
        reason = (f"{name} would make the leg {leg.contracts + amount}, above the market "
                  f"maximum of {market.max_amount}")
    elif not market.tradable(amount, target):
        reason = f"{name} is {market.below_minimum(amount, target)}"
    else:
        return state
    ctx.record(ge.LevelSkipped(leg=side, level=leg.level + 1, amount=amount, reason=reason))
    current = {state.long.position_id, state.short.position_id}
    kept = tuple(k for k in state.levels_refused if k[0] in current)
    return replace(state, levels_refused=kept + (key,))


def _may_rest(state: GridState, side: Side, target: Decimal, price: Decimal) -> bool:
    """A level rests on the passive side of the market, and never while the price is at or
    through the leg's stop or the leg is being closed. Found by a live soak: a 3.9 % drop took
    the price through a long's stop; the bot began closing the leg and, in the same pass, placed
    its next level 3.2 % above the market, a buy that filled at once into a leg being stopped
    out (and re-opened it, 3.4 times the reference size, without a stop)."""
    leg = state.leg(side)
    if leg.stop_price is not None and ts.crossed_against(side, price, leg.stop_price):
        return False
    if state.orders_of(side, GridKind.CLOSE):
        return False
    return target < price if side is Side.LONG else target > price


def _recalculate(
    state: GridState, side: Side, add: Order, price: Decimal, ctx: GridCtx
) -> GridState:
    """Cancel the leg's pending level once the price moved more than recalc_pct from its
    anchor (re-anchored at ``price``; the next level is placed from there). Only a price newer
    than the anchor counts: a fill reported before the next price anchors the level at the fill,
    and the older price, compared with it, would re-anchor the level on the market's side of the
    fill, where it fills at once (and again for every level, inside one message)."""
    r = ctx.rules
    leg = state.leg(side)
    if state.price_seq <= leg.anchor_seq:
        return state  # no price since the anchor was set: it may be older than the fill
    anchor = leg.anchor or price
    moved = abs(price - anchor) / anchor * HUNDRED
    if add.status is OrderStatus.OPEN and add.cancel_requested_at is None and moved > r.recalc_pct:
        ctx.record(ge.LevelRecalculated(leg=side, level=add.level, old_price=add.price,
                                        anchor=anchor, price=price,
                                        moved_pct=moved.quantize(Decimal("0.001"))))
        state = state.with_leg(replace(leg, anchor=price, anchor_seq=state.price_seq))
        state = ctx.cancel(state, add)
    return state
