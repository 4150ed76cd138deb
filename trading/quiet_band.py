"""The quiet band: the prices (and a time limit) at which a price tick changes nothing but
`last_price`, so the actor can skip `decide` for it (actors/loop.py, actors/price_slots.py).

A mirror of `decide.on_price` as price bounds, kept next to nothing else: `SymbolCore.quiet_band`
(trading/decide.py) adds the stop-move bound it alone can compute.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from trading.model import OrderPurpose, Phase, Side, SymbolState, TrailingState
from trading.quarantine import closes_held


@dataclass(frozen=True, slots=True)
class QuietBand:
    """Prices (and a time limit) for which a price tick is a no-op.

    A price is quiet when ``price > gt``, ``price < lt``, ``price >= ge`` and ``price <= le``
    (a None bound is no bound) and ``now < until`` (None: no time limit). Built from the same
    predicates `on_price` uses, never wider: when in doubt the tick takes the full path.
    """

    gt: Decimal | None = None
    lt: Decimal | None = None
    ge: Decimal | None = None
    le: Decimal | None = None
    until: float | None = None

    def contains(self, price: Decimal, now: float) -> bool:
        return (
            (self.gt is None or price > self.gt)
            and (self.lt is None or price < self.lt)
            and (self.ge is None or price >= self.ge)
            and (self.le is None or price <= self.le)
            and (self.until is None or now < self.until)
        )

    def contains_price(self, price: Decimal) -> bool:
        """The price part only (for a caller on another clock); a time-limited band is never
        quiet here."""
        return self.until is None and self.contains(price, 0.0)


ALWAYS_QUIET = QuietBand()


def quiet_band(
    state: SymbolState, intended_stop: Decimal | None = None, move_up_to: Decimal | None = None
) -> QuietBand | None:
    """Mirror of `on_price` (maintain, trailing advance, exit reasons, stop move) as price bounds.

    - flat / entering: `maintain` acts only on a position (an entry's part filled: its stop
      placement is due until `next_stop_at`), `on_price` stops there;
    - closing: only a due close retry acts (`retry_close_due`), so quiet until `next_close_at`;
    - open: quiet while no protective level is crossed (stop, trailing trigger: `crossed_against`),
      no favourable level is reached (take-profit, trailing activation: `reached`), the price is
      not a new best for an active trailing stop (`better`), no stop placement is due
      (`protect`: until `next_stop_at`) and no stop move is due (`_move_stop`: a price above
      `move_up_to`, see `stop_move_due_up_to`).
    """
    phase = state.phase
    if phase is Phase.FLAT:
        return ALWAYS_QUIET
    if phase is Phase.ENTERING:  # only the stop of a part filled acts (`protect`)
        part_bare = state.position is not None and state.needs_stop \
            and not state.live_orders(OrderPurpose.STOP)
        return QuietBand(until=state.next_stop_at) if part_bare else ALWAYS_QUIET
    if phase is Phase.CLOSING:
        if state.position is None:
            return ALWAYS_QUIET
        retry_at = None if closes_held(state) else state.next_close_at
        due = [] if retry_at is None else [retry_at]
        if state.needs_stop and not state.live_orders(OrderPurpose.STOP):
            due.append(state.next_stop_at)  # `protect` acts then, at any price
        return QuietBand(until=min(due)) if due else ALWAYS_QUIET
    pos = state.position
    if pos is None:
        return None  # an open phase without a position: leave it to the full path
    until = None
    if state.needs_stop and not state.live_orders(OrderPurpose.STOP):
        until = state.next_stop_at
    protective = [lvl for lvl in (state.stop_price, intended_stop) if lvl is not None]
    favourable = [] if state.take_profit_price is None else [state.take_profit_price]
    best = None
    t = state.trailing
    if t is not None:
        if t.trigger_price is not None:
            protective.append(t.trigger_price)
        if t.state is TrailingState.WAITING:
            favourable.append(t.activation_price)
        elif t.best_price is None:
            return None
        else:
            best = t.best_price
    if move_up_to is not None:  # a move is due at every price up to it, for either side
        (protective if pos.side is Side.LONG else favourable).append(move_up_to)
    if pos.side is Side.LONG:  # crossed_against: price <= level; reached: price >= level
        return QuietBand(
            gt=max(protective) if protective else None,
            lt=min(favourable) if favourable else None,
            le=best,
            until=until,
        )
    return QuietBand(
        lt=min(protective) if protective else None,
        gt=max(favourable) if favourable else None,
        ge=best,
        until=until,
    )
