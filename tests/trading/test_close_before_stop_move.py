"""Issue 11 item 4: a price that both ratchets the trailing stop and triggers an exit sends only
the close. The stop move would go first and delay the close by a whole round trip; the close
cancels the position's resting orders anyway, and the old stop protects until it fills."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from tests.trading.conftest import make_rules
from tests.trading.scenario import Scenario
from trading.commands import PlaceOrder
from trading.decide import SymbolCore
from trading.events import PriceTicked, SignalRaised
from trading.model import OrderPurpose, Phase, Side, TrailingState

# long: entry 100, stop 99, activation 100.5, take-profit 102 (short: mirrored)
PRICES = {Side.LONG: ("100.6", "102.5"), Side.SHORT: ("99.4", "97.5")}


def active_trailing(side: Side) -> Scenario:
    sc = Scenario(SymbolCore(make_rules(take_profit_pct=D(2))))
    sc.send(PriceTicked(price=D(100)))
    sc.send(SignalRaised(side=side))
    d = sc.send(PriceTicked(price=D(PRICES[side][0])))
    assert sc.state.trailing.state is TrailingState.ACTIVE
    assert [j.type for j in d.journal].count("StopMoveRequested") == 1  # a ratchet alone moves
    return sc


@pytest.mark.parametrize("side", [Side.LONG, Side.SHORT])
def test_one_price_that_ratchets_and_reaches_take_profit_sends_only_the_close(side):
    sc = active_trailing(side)
    before = sc.state
    sc.auto_exchange = False
    d = sc.send(PriceTicked(price=D(PRICES[side][1])))
    assert d.state.trailing.best_price == D(PRICES[side][1])  # it did ratchet
    assert d.state.trailing.trigger_price != before.trailing.trigger_price
    placed = [c.order for c in d.commands if isinstance(c, PlaceOrder)]
    assert [o.purpose for o in placed] == [OrderPurpose.CLOSE]
    assert "StopMoveRequested" not in [j.type for j in d.journal]
    assert d.state.phase is Phase.CLOSING and d.state.close_reason == "take_profit"
    # the acknowledged stop still protects the position until the close fills
    assert d.state.active_stop() == before.active_stop()
    assert d.state.stop_price == before.stop_price
