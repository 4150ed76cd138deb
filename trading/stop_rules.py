"""The one-way position's stop coverage rules: which level its exchange stop belongs at, when
one is placed (or re-placed to cover a grown position), and when the position needs none.

Every position the exchange stop must cover (`guarded`) gets one (INCIDENTS rule 5): armed when
the entry ends (`arm_protection`), for an entry's part at once (`protect_part`), grown with the
position (`cover_stop`), and placed by `decide.protect` whenever `stop_due` says so. Pure, like
trading/lifecycle.py, which uses these rules when fills arrive.
"""

from __future__ import annotations

from decimal import Decimal

from trading import journal_events as je
from trading import trailing_stop as ts
from trading.decision import Ctx
from trading.frozen import replace
from trading.model import OrderPurpose, OrderStatus, Phase, SymbolState
from trading.order_evidence import sent_only
from trading.orders import Order
from trading.primitives import waiting
from trading.quarantine import mismatched
from trading.rules import Rules


def arm_protection(state: SymbolState, ctx: Ctx) -> SymbolState:
    """Set stop, trailing stop and take-profit from the entry price and place the stop."""
    pos = state.position
    assert pos is not None
    risk, market = ctx.rules.risk, ctx.rules.market
    stop = ts.initial_stop(pos.side, pos.entry_price, risk.stop_loss_pct, market)
    trailing = state.trailing or ts.new_trailing(
        pos.side, pos.entry_price, risk.trailing_activation_pct, risk.trailing_callback_pct, market)
    tp = (ts.target_price(pos.side, pos.entry_price, risk.take_profit_pct, market)
          if risk.take_profit_pct else None)
    state = replace(state, trailing=trailing, take_profit_price=tp, needs_stop=True,
                    next_stop_at=0.0, stop_refusals=0)
    if state.live_orders(OrderPurpose.STOP):  # placed while the entry filled in part
        return cover_stop(replace(state, needs_stop=False), ctx, level=stop)
    return place_stop(state, stop, ctx)


def protect_part(state: SymbolState, ctx: Ctx) -> SymbolState:
    """An entry filled in part and still open (a venue that reports `partially_filled` first,
    an IOC or limit entry): the filled part is a position the exchange stop must cover now, not
    when the entry ends (INCIDENTS rule 5: no position without a stop). The first part gets a
    stop at the initial level (`decide.protect`, in the same decision); each later part grows
    it (`cover_stop`). Trailing stop and take-profit are armed when the entry ends
    (`finish_entry`), from the whole entry's price."""
    if state.live_orders(OrderPurpose.STOP):
        return cover_stop(state, ctx)
    return replace(state, needs_stop=True, next_stop_at=0.0, stop_refusals=0)


def cover_stop(state: SymbolState, ctx: Ctx, level: Decimal | None = None) -> SymbolState:
    """A guarded position bigger than what its exchange stops can still fill (it grew: the next
    part of an entry, a fill booked late, a buy by hand; or the stop filled in part): a stop for
    the whole position is placed at the same level (`level` where that is better: the initial
    stop of an entry that ended), and the old one is cancelled once the new one is acknowledged
    (on_accepted), as a trailing-stop move. One at a time: while a stop is pending, its
    acknowledgement covers again (`order_reports.on_accepted`). A stop bigger than the position
    is left as it is: it is reduce-only."""
    pos, stops = state.position, state.live_orders(OrderPurpose.STOP)
    if state.phase not in (Phase.OPEN, Phase.ENTERING) or pos is None or not stops:
        return state  # no stop at all: `protect` (or reconcile) places one for all of it
    if any(o.status is OrderStatus.PENDING for o in stops):
        return state
    current = stops[-1]
    at = current.stop_price or state.stop_price or intended_stop(state, ctx)
    if level is not None and ts.better(pos.side, level, at):
        at = level
    if any(o.remaining >= ctx.rules.market.capped(pos.contracts) and o.stop_price is not None
           and not ts.better(pos.side, at, o.stop_price) for o in stops):
        return state  # all of it (or the most one order may carry), at the level
    ctx.record(je.StopRequested(stop_price=at))
    return place_stop(state, at, ctx, replaces=current.client_order_id)


def intended_stop(state: SymbolState, ctx: Ctx) -> Decimal:
    return stop_level(state, ctx.rules)


def stop_level(state: SymbolState, rules: Rules) -> Decimal:
    """Where the position's stop belongs: the initial stop, or the acknowledged stop or the
    trailing trigger where either is better."""
    pos = state.position
    assert pos is not None
    stop = ts.initial_stop(pos.side, pos.entry_price, rules.risk.stop_loss_pct, rules.market)
    trigger = state.trailing.trigger_price if state.trailing is not None else None
    for level in (state.stop_price, trigger):
        if level is not None and ts.better(pos.side, level, stop):
            stop = level
    return stop


def place_stop(state: SymbolState, stop_price: Decimal, ctx: Ctx,
               replaces: str | None = None) -> SymbolState:
    pos = state.position
    assert pos is not None
    if ctx.rules.risk.bot_side_stops:
        return replace(state, stop_price=stop_price, needs_stop=False)
    amount = ctx.rules.market.capped(pos.contracts)  # a stop larger is refused by the venue
    return ctx.new_order(state, OrderPurpose.STOP, pos.side.exit_order_side, amount,
                         price=stop_price, position_id=pos.position_id, replaces=replaces)


def guarded(state: SymbolState) -> bool:
    """The position is one the exchange stop must cover: open, being closed (a close that
    keeps failing, a quarantine after it escalated: the stop is what protects it meanwhile),
    or the part of an entry that filled while the rest is still open (`protect_part`)."""
    return state.position is not None and state.phase in (Phase.ENTERING, Phase.OPEN,
                                                          Phase.CLOSING)


def through_stop(state: SymbolState, rules: Rules) -> bool:
    """Closing, and the price is at or through the level a stop would be placed at: no stop can
    rest there, the close and its retries are the protection (`decide.protect` places none)."""
    pos, price = state.position, state.last_price
    return (state.phase is Phase.CLOSING and pos is not None and price is not None
            and ts.crossed_against(pos.side, price, stop_level(state, rules)))


def standing_stops(state: SymbolState) -> list[Order]:
    """The position's live stops but those being cancelled (the old stop of a move, once the
    new one rests): a stop whose cancel is on its way is no stop left to protect it."""
    return [o for o in state.live_orders(OrderPurpose.STOP) if o.cancel_requested_at is None]


def stop_due(state: SymbolState, now: float, rules: Rules) -> bool:
    """`decide.protect` places a stop now: the open (or closing) position has no stop order live,
    its placement (or its retry after a refusal) is due, and a closing one's price is not through
    the level. The actor sets a reconciliation waiting for rate budget aside for it
    (actors/symbol_actor.py `_urgent`)."""
    if not guarded(state) or not state.needs_stop or standing_stops(state) \
            or mismatched(state):
        return False
    return not waiting(now, state.next_stop_at, rules.risk.stop_retry_longest) \
        and not through_stop(state, rules)


def stop_unresolved(state: SymbolState) -> bool:
    """The guarded position's only stops are intents never acknowledged (committed, then the
    process killed before the send, or a send whose outcome the shell could not learn): they
    count as its stop on its way, so none is due (`stop_due`), and only a lookup by client id
    tells whether one rests (one not found ends at once and is sent again, order_evidence.py).
    The reconciliation that looks is protective work: nothing sets it aside (actors/loop.py
    `reconcile`). A chaos run after kill 9: 1.5-4.1 s with no stop on the venue, while the
    other orders' reports set the start reconciliation aside again and again. So is a close
    never acknowledged while no acknowledged stop rests (the stop refused with the price
    through it, then a kill before the close went out: a chaos review saw that start's
    reconciliation set aside three times for crossing prices, the close found missing
    3.1 s after the start)."""
    if not guarded(state):
        return False
    stops = standing_stops(state)
    if not all(sent_only(o) for o in stops):
        return False  # an acknowledged stop rests: the reconciliation protects no more
    closes = state.live_orders(OrderPurpose.CLOSE) + state.live_orders(OrderPurpose.EMERGENCY)
    return any(sent_only(o) for o in stops + closes)
