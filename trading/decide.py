"""decide(state, event, now) -> Decision: the whole trading logic of one symbol, pure.

No pykka, ccxt, peewee, loguru or wall clock here: the actor shell persists the decision in one
transaction, then executes its commands. The same code runs live, on paper, in replay and in
property tests; order reports are handled in `trading/order_reports.py`.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import ROUND_CEILING, Context, Decimal

from trading import entry_resend as er
from trading import funding, late_fees
from trading import journal_events as je
from trading import lifecycle as lc
from trading import trailing_stop as ts
from trading.commands import AmendStop, CancelOrder
from trading.decision import Ctx, Decision
from trading.events import (
    EntriesBlocked,
    Event,
    FeesLooked,
    FundingSettled,
    OrderAccepted,
    OrderCanceled,
    OrderFailed,
    OrderFilled,
    PriceTicked,
    QuarantineLifted,
    Reconciled,
    ReconcileFailed,
    SignalRaised,
    StopAmended,
    StopAmendFailed,
    TimerFired,
)
from trading.frozen import replace
from trading.model import ZERO, OrderPurpose, OrderStatus, Phase, SymbolState
from trading.order_reports import (
    on_accepted,
    on_canceled,
    on_failed,
    on_filled,
    on_stop_amend_failed,
    on_stop_amended,
)
from trading.orders import Order
from trading.primitives import waiting
from trading.quarantine import SIDE_MISMATCH, mismatched
from trading.quiet_band import QuietBand, quiet_band
from trading.reconcile import reconcile
from trading.rules import Rules
from trading.stop_rules import cover_stop, intended_stop, place_stop, stop_due


class SymbolCore:
    """The decision function bound to one symbol's frozen rules."""

    def __init__(self, rules: Rules) -> None:
        self.rules = rules

    def decide(
        self,
        state: SymbolState,
        event: Event,
        now: float,
        admit: Callable[[str, Decimal | None], str | None] | None = None,
    ) -> Decision[SymbolState]:
        ctx = (
            Ctx(rules=self.rules, now=now)
            if admit is None
            else Ctx(rules=self.rules, now=now, admit=admit)
        )
        if state.finished_orders:
            state = replace(state, finished_orders=())
        if isinstance(event, PriceTicked):  # the hot path: no call more per price
            state = on_price(state, event, ctx)
        else:
            state = _on_event(state, event, ctx)
        return ctx.decision(state)

    def quiet_band(self, state: SymbolState) -> QuietBand | None:
        """The prices at which `decide(state, PriceTicked(price), now)` changes nothing but
        `last_price` (no command, no journal entry, no other field), or None when this state has
        no such shortcut. See `quiet_band`."""
        band = self._quiet_band(state)
        if band is None or not state.stop_refusals or state.protected():
            return band
        # a refused or lost stop covering a grown position is sent again at its retry, at any
        # price (`_cover_again`)
        until = state.next_stop_at if band.until is None else min(band.until, state.next_stop_at)
        return replace(band, until=until)

    def _quiet_band(self, state: SymbolState) -> QuietBand | None:
        pos, stop = state.position, None
        if pos is not None and state.phase is Phase.ENTERING and self.rules.risk.bot_side_stops:
            return None  # the bot's stop of the part acts by the price (`_part_stopped`)
        if pos is None or state.phase is not Phase.OPEN:
            return quiet_band(state)
        if state.stop_price is None:
            # no stop acknowledged yet: the exit check guards the intended level (issue 16 item 5)
            risk = self.rules.risk
            stop = ts.initial_stop(pos.side, pos.entry_price, risk.stop_loss_pct, self.rules.market)
        move_up_to = stop_move_due_up_to(state, self.rules)
        if move_up_to is not None and state.stop_refusals:
            # a refused move waits (`move_waits`): no move before its retry, then every price
            # takes the full path (the band has no clock to tell the two apart)
            band = quiet_band(state, stop)
            if band is None:
                return None
            until = state.next_stop_at if band.until is None else min(band.until,
                                                                       state.next_stop_at)
            return replace(band, until=until)
        return quiet_band(state, stop, move_up_to)


def _on_event(state: SymbolState, event: Event, ctx: Ctx) -> SymbolState:
    """Every event but a price, each to its handler (a price goes to `on_price` in `decide`
    itself: the per-price path makes no call more)."""
    match event:
        case SignalRaised():
            state = on_signal(state, event, ctx)
        case OrderAccepted():
            state = on_accepted(state, event, ctx)
        case OrderFilled():
            state = protect(on_filled(state, event, ctx), ctx)
        case OrderCanceled():
            # a stop removed on the exchange (or filled in part) is re-placed in the same
            # decision, or the position closed when the price is already through it: it
            # waited for the next Timer, which on Binance first ran a whole reconciliation
            # for an entry's unknown fee (6-91 s without a stop in a live soak)
            state = protect(on_canceled(state, event, ctx), ctx)
        case OrderFailed():
            # a stop that never reached the venue is placed again in the same decision
            # (`rules.stop_wait`); a refused one waits (`stop_due` says no)
            state = protect(on_failed(state, event, ctx), ctx)
        case Reconciled():
            state = reconcile(state, event, ctx, on_accepted, on_filled, on_canceled, on_failed)
            state = maintain(state, ctx)
        case FeesLooked(orders=orders):
            state = late_fees.settle(state, orders, ctx, lc.book_late_fee)
        case FundingSettled():
            state = funding.book_one_way(state, event, ctx)
        case TimerFired():
            state = retry_stop_move(maintain(state, ctx), ctx)
            state = er.resend_due(state, ctx, on_signal)  # an external entry set aside
        case EntriesBlocked(blocked=blocked, reason=reason):
            if blocked != state.entries_blocked:
                ctx.record(
                    je.EntriesBlocked(reason=reason)
                    if blocked
                    else je.EntriesAllowed(reason=reason)
                )
            state = replace(state, entries_blocked=blocked,
                            entries_blocked_reason=reason if blocked else None)
        case QuarantineLifted(by=by):
            state = lc.on_lifted(state, by, ctx)
        case ReconcileFailed():
            state = lc.reconcile_failed(state, event, ctx)
        case StopAmended():
            state = on_stop_amended(state, event, ctx)
        case StopAmendFailed():
            state = on_stop_amend_failed(state, event, ctx)
        case _:
            raise TypeError(f"decide: unknown event {event!r}")
    return state


def maintain(state: SymbolState, ctx: Ctx) -> SymbolState:
    """Time-driven duties: a due close retry, a missing stop."""
    state = lc.retry_close_due(state, ctx)
    return protect(state, ctx)


def protect(state: SymbolState, ctx: Ctx) -> SymbolState:
    """Place the exchange stop if the open position has none (retried every stop_retry_s), or
    one for all of it after the stop that would cover it was refused or lost (`_cover_again`)."""
    pos = state.position
    if pos is None:
        return state
    if not stop_due(state, ctx.now, ctx.rules):
        # closing through the stop level: the close retries protect (`through_stop`)
        return _cover_again(state, ctx) if state.stop_refusals else state
    stop = intended_stop(state, ctx)
    price = state.last_price
    retry_at = ctx.now + ctx.rules.risk.stop_retry_s
    if price is not None and ts.crossed_against(pos.side, price, stop) \
            and state.phase is not Phase.ENTERING:  # an entry still open is not closed
        ctx.record(je.StopAlreadyCrossed(stop_price=stop, price=price))
        # still due: placed if the price comes back above the level while the close is retried
        return lc.start_close(state, "stop_loss", ctx)
    ctx.record(je.StopRequested(stop_price=stop))
    return place_stop(replace(state, next_stop_at=retry_at), stop, ctx)


def _cover_again(state: SymbolState, ctx: Ctx) -> SymbolState:
    """A position grown past its resting stop whose covering stop (`cover_stop`) was refused or
    lost: sent again once its wait is over (`stop_wait`: at once when lost), as a refused move
    is. Nothing else sent it before the next reconciliation (up to 300 s while the streams are
    up), the grown part bare meanwhile (found by review). `cover_stop` does nothing while the
    stops cover the position at their level, or one is pending (a move in flight)."""
    if mismatched(state) or waiting(ctx.now, state.next_stop_at, ctx.rules.risk.stop_retry_longest):
        return state
    return cover_stop(state, ctx)


def on_price(state: SymbolState, ev: PriceTicked, ctx: Ctx) -> SymbolState:
    """Maintain, ratchet the trailing stop, then exit or move the exchange stop.

    When one price both ratchets the trailing stop and triggers an exit (say it reaches the
    take-profit while making a new best), only the close is sent: the stop move would reach the
    exchange first and delay the close by a whole round trip, and the close cancels every
    resting order of the position anyway. The old exchange stop keeps protecting the position
    until the close fills (or while its retries run)."""
    state = maintain(replace(state, last_price=ev.price), ctx)
    if state.phase is Phase.ENTERING and _part_stopped(state, ev, ctx):
        return _stop_part(state, ctx)
    if state.phase is not Phase.OPEN or state.position is None or mismatched(state):
        return state
    if state.trailing is not None:
        state = _trail(state, ev, ctx)
    reason = _exit_reason(state, ev, ctx)
    if reason:
        return lc.start_close(state, reason, ctx)
    return _move_stop(state, ev, ctx)


def _part_stopped(state: SymbolState, ev: PriceTicked, ctx: Ctx) -> bool:
    """Bot-side stops (`exchange.stop_mode = "bot"`): the filled part of an entry still open is
    through its stop level. No exchange stop rests to close it, and exits only ran once the
    position was open: the part had no stop at all while the rest was open (found by review;
    INCIDENTS rule 5)."""
    pos = state.position
    if pos is None or not ctx.rules.risk.bot_side_stops or mismatched(state):
        return False
    level = state.stop_price if state.stop_price is not None else intended_stop(state, ctx)
    return ts.crossed_against(pos.side, ev.price, level)


def _stop_part(state: SymbolState, ctx: Ctx) -> SymbolState:
    """The bot's stop of an entry's part: the rest of the entry is cancelled (no more adds to
    a position through its stop), the part is open and closed at once as a stop-out; a rest
    that fills before its cancel lands grows the position, which the close retries take off."""
    for entry in state.live_orders(OrderPurpose.ENTRY):
        ctx.emit(CancelOrder.of(entry))
    return lc.start_close(lc.finish_entry(state, ctx), "stop_loss", ctx)


def _trail(state: SymbolState, ev: PriceTicked, ctx: Ctx) -> SymbolState:
    pos, old = state.position, state.trailing
    assert pos is not None and old is not None
    new = ts.advance(old, pos.side, ev.price, ctx.rules.market)
    if new == old:
        return state
    if new.state is not old.state:
        ctx.record(je.TrailingStopActivated(price=ev.price, trigger_price=new.trigger_price))
    return replace(state, trailing=new)


def _stop_to_move(state: SymbolState, rules: Rules) -> tuple[Order, Decimal] | None:
    """The resting stop `_move_stop` may move and the trailing trigger it would move it to; None
    while no move can be due at any price: bot-side stops, no trigger, a move in flight (one at
    a time), no acknowledged stop. `stop_should_move` then decides by the price."""
    trigger = state.trailing.trigger_price if state.trailing is not None else None
    if trigger is None or rules.risk.bot_side_stops:
        return None
    if any(o.status is OrderStatus.PENDING for o in state.live_orders(OrderPurpose.STOP)):
        return None  # one stop move at a time
    current = state.active_stop()
    return None if current is None else (current, trigger)


def stop_move_due_up_to(state: SymbolState, rules: Rules) -> Decimal | None:
    """The highest price at which `_move_stop` moves the exchange stop (`stop_should_move`: at
    every price up to it, none above; rounded up). None: at no price; Infinity: at every one."""
    move, pos = _stop_to_move(state, rules), state.position
    if move is None or pos is None:
        return None
    trigger, stop, step = move[1], state.stop_price, rules.risk.trailing_step_pct
    if stop is not None and not ts.better(pos.side, trigger, stop):
        return None
    if stop is None or step <= 0:
        return Decimal("Infinity")
    # abs(trigger - stop) >= price * step / 100  <=>  price <= abs(trigger - stop) * 100 / step
    return Context(rounding=ROUND_CEILING).divide(abs(trigger - stop) * ts.HUNDRED, step)


def retry_stop_move(state: SymbolState, ctx: Ctx) -> SymbolState:
    """On the timer: a stop move due at the last price (refused, or skipped while another was
    in flight) is retried without a new price. An exit is left to the next price, as before."""
    price = state.last_price
    if state.phase is not Phase.OPEN or state.position is None or price is None \
            or mismatched(state):  # as `on_price`: no order for our side while they differ
        return state
    ev = PriceTicked(price=price)
    return state if _exit_reason(state, ev, ctx) else _move_stop(state, ev, ctx)


def _move_stop(state: SymbolState, ev: PriceTicked, ctx: Ctx) -> SymbolState:
    """Move the exchange stop up to the trailing trigger when it ratcheted far enough."""
    pos, move = state.position, _stop_to_move(state, ctx.rules)
    assert pos is not None
    step = ctx.rules.risk.trailing_step_pct
    if move is None or not ts.stop_should_move(pos.side, state.stop_price, move[1], ev.price, step):
        return state
    if move_waits(state, ctx.now, ctx.rules):
        return state
    current, trigger = move
    ctx.record(je.StopMoveRequested(old_stop=state.stop_price, new_stop=trigger))
    if ctx.rules.risk.amend_stops and current.exchange_id is not None:
        ctx.emit(AmendStop(client_order_id=current.client_order_id,
                           exchange_id=current.exchange_id, side=current.side,
                           stop_price=trigger))
        return state  # the answer (StopAmended / StopAmendFailed) is decided in this message
    return place_stop(state, trigger, ctx, replaces=current.client_order_id)


def move_waits(state: SymbolState, now: float, rules: Rules) -> bool:
    """A stop move the venue refused waits before it is sent again, as a refused stop does
    (`RiskRules.stop_retry`: fast at first, then doubling); the old stop rests meanwhile and
    `_exit_reason` closes at the trailing trigger. Found by review: it was sent again at every
    price and heartbeat, one refused order per tick while a lasting refusal held."""
    return bool(state.stop_refusals) and waiting(now, state.next_stop_at,
                                                 rules.risk.stop_retry_longest)


def _exit_reason(state: SymbolState, ev: PriceTicked, ctx: Ctx) -> str | None:
    pos, trailing = state.position, state.trailing
    assert pos is not None
    if trailing and trailing.trigger_price is not None:
        exchange_stop_lags = (
            state.stop_price is None
            or ts.better(pos.side, trailing.trigger_price, state.stop_price)
            or state.active_stop() is None
        )
        if exchange_stop_lags and ts.crossed_against(pos.side, ev.price, trailing.trigger_price):
            return "trailing_stop"  # the exchange stop is not at the trigger: close ourselves
    tp = state.take_profit_price
    if tp is not None and ts.reached(pos.side, ev.price, tp):
        return "take_profit"
    # before the first stop is acknowledged the intended level protects (issue 16 item 5)
    protective = state.stop_price if state.stop_price is not None else intended_stop(state, ctx)
    unprotected = state.needs_stop and not state.live_orders(OrderPurpose.STOP)
    crossed = protective is not None and ts.crossed_against(pos.side, ev.price, protective)
    if crossed and (state.active_stop() is None or unprotected):
        return "stop_loss"  # no exchange stop will do it for us
    return None


def on_signal(state: SymbolState, ev: SignalRaised, ctx: Ctx) -> SymbolState:
    state = er.superseded(state, ev, ctx)  # an entry waiting to be sent again: the newer wins
    if ev.side is None:
        if state.phase is Phase.OPEN and not mismatched(state):
            return lc.start_close(state, ev.reason, ctx)
        if ev.signal_id is not None:  # an external exit that closes nothing says why
            why = MISMATCHED_EXIT if mismatched(state) else EXIT_SKIPS[state.phase]
            ctx.record(je.SignalSkipped(side=None, reason=why, signal_id=ev.signal_id))
        return state
    skip = _entry_blocker(state, ctx)
    if skip is None and ev.signal_id is None and waiting(  # the strategy's signal holds on
            ctx.now, state.entry_retry_at, ctx.rules.risk.entry_retry_max_s):
        skip = (f"the last entry was refused or ended unfilled: next attempt in "
                f"{state.entry_retry_at - ctx.now:.0f}s")
    price = state.last_price
    amount = ZERO
    if skip is None:
        skip = "no price yet" if price is None else _stale_price(ev, ctx)
    if skip is None and price is not None:
        size = ev.size_usdt or ctx.rules.risk.order_size_usdt
        amount = ctx.rules.market.amount_down(size / price)
        skip = ctx.rules.market.size_refusal(size, amount, price)
    if skip is None and price is not None:  # the account's gate is asked last: it reserves
        # a slot, and the entry's margin of the free margin, when it admits (found by review:
        # no margin was given, so an entry the account could not carry went to the venue)
        skip = ctx.admit("signal", ctx.rules.market.entry_margin(
            amount, price, ctx.rules.risk.leverage))
    if skip is not None:
        kind = skip_kind(skip)
        if ev.signal_id is None and state.skipped_for == kind:
            return state  # the strategy asks again for the same reason: recorded once already
        ctx.record(je.SignalSkipped(side=ev.side, reason=skip, signal_id=ev.signal_id))
        return replace(state, skipped_for=kind if ev.signal_id is None else state.skipped_for)
    state = lc.open_entry(replace(state, skipped_for=None), ev.side, amount, ctx, ev.reason)
    return er.opened(state, ev)


def _stale_price(ev: SignalRaised, ctx: Ctx) -> str | None:
    """An entry is sized from the last price; one read longer ago than risk.max_price_age_s
    (the feed stopped with a venue outage) would size it on the market from before the outage
    (found by review: an external signal after a long outage did)."""
    limit = ctx.rules.risk.max_price_age_s
    if ev.priced_at is None or ctx.now - ev.priced_at <= limit:
        return None
    return (f"the last price is {ctx.now - ev.priced_at:.0f}s old (risk.max_price_age_s = "
            f"{limit:g}): no entry on a stale price")


EXIT_SKIPS = {
    Phase.FLAT: "no open position to exit",
    Phase.ENTERING: "the entry is still in flight: no open position to exit yet",
    Phase.CLOSING: "the position is being closed already",
}
MISMATCHED_EXIT = (f"{SIDE_MISMATCH}: a close of our side is a reduce-only order the venue "
                   "refuses (a person decides)")
"""An exit while the exchange lists the other side (`quarantine.mismatched`): a close sent
anyway was refused, counted, and with max_close_attempts = 1 escalated at once into the
emergency close of the exchange's position, the one a person was alerted to decide on."""


def skip_kind(reason: str) -> str:
    """A skip reason without its figures ("cooldown after a losing close for 53s" and "... 52s"
    are one reason)."""
    return "".join(c for c in reason if not (c.isdigit() or c == "."))


def _entry_blocker(state: SymbolState, ctx: Ctx) -> str | None:
    if state.quarantined:
        return f"quarantined: {state.quarantine_reason}"
    if state.entries_blocked:
        return blocked_refusal(state.entries_blocked_reason)
    if state.phase is not Phase.FLAT:
        return f"already {state.phase.value}"
    if waiting(ctx.now, state.cooldown_until, ctx.rules.risk.cooldown_after_loss_s):
        return f"cooldown after a losing close for {state.cooldown_until - ctx.now:.0f}s"
    return None


def blocked_refusal(reason: str | None) -> str:
    """The refusal of an entry while entries are blocked, naming what blocked them (a state
    restored without the reason, or a block sent without one, says what usually does)."""
    return f"entries are blocked: {reason}" if reason else (
        "entries are blocked (kill switch, shutdown or a protection)")
