"""The status view's unrealized P&L of a one-way position (actors/actor_view.py `view_of`): a
short gains when the price falls. Found by a mutation audit: the side's sign dropped from the
formula survived every test that names the module (they all show longs), and a short in profit
then read as a loss on the status and the dashboard."""

from __future__ import annotations

from decimal import Decimal

import pytest

from actors.actor_view import view_of
from trading.model import Phase, Position, SymbolState
from trading.primitives import Side


@pytest.mark.parametrize(("side", "upnl"), [(Side.SHORT, "20.0000"), (Side.LONG, "-20.0000")])
def test_unrealized_pnl_takes_the_positions_side(side: Side, upnl: str) -> None:
    state = SymbolState(
        symbol="BTC/USDT:USDT", phase=Phase.OPEN, last_price=Decimal("49800"),
        position=Position(position_id="p1", side=side, contracts=Decimal("0.1"),
                          entry_price=Decimal("50000"), opened_at=1.0))
    view = view_of(state, None, reconciled=True)
    assert view.position is not None
    assert view.position["unrealized_pnl"] == upnl
