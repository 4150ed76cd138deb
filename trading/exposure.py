"""What a symbol's state holds of the account's `max_open_positions`: one definition, read by
the running entry gate (actors/cores.py `exposure`, settled after every decision) and by the
start seed (storage/queries.py `held_at_start`, before any actor runs). Two copies had drifted
(found by review): a hedge grid flagged for a position it does not know counted nothing, and
the start seed missed a flat leg's live level order, so the seed and the running count
disagreed and other symbols could open past the cap."""

from __future__ import annotations

from trading.grid.model import GridKind, GridState
from trading.model import Phase, SymbolState
from trading.orders import OrderPurpose
from trading.primitives import Side
from trading.reconcile import UNKNOWN_POSITION


def one_way_held(state: SymbolState) -> int:
    """1 while a position is open, an entry may still fill (entering, or an entry order live,
    e.g. its cancel unconfirmed), or the exchange holds a position the bot does not know."""
    entering = state.phase is Phase.ENTERING or any(
        o.purpose is OrderPurpose.ENTRY and o.status.live for o in state.orders)
    return 1 if state.position is not None or entering or _flagged(state) else 0


def grid_held(state: GridState) -> int:
    """Open legs, plus each flat leg with an order live that can fill into a position (its
    opening order, or a level whose leg closed while its cancel was unconfirmed), plus one for
    a position on the exchange the grid does not know (quarantined UNKNOWN_POSITION: it sits
    on a side where the grid holds no leg, or the venue would list our leg larger instead)."""
    legs = sum(1 for leg in (state.long, state.short) if leg.is_open)
    entering = sum(
        1
        for side in (Side.LONG, Side.SHORT)
        if not state.leg(side).is_open
        and any(o.status.live and o.kind in (GridKind.OPEN, GridKind.ADD)
                for o in state.orders_of(side))
    )
    # a hedge-mode symbol holds at most a long and a short on the exchange: an unknown short
    # and our short's opening order that may fill into it are one position
    return min(2, legs + entering + (1 if _flagged(state) else 0))


def _flagged(state: SymbolState | GridState) -> bool:
    return state.quarantined and state.quarantine_reason == UNKNOWN_POSITION
