"""The cooldown after a losing close runs from the close's fill as the venue dates it, not from
when the bot learnt of it (trading/lifecycle.py `position_closed`: `ctx.closed_at`). Mutation
audit (helper y): with the cooldown counted from the booking time (`ctx.now`), no test failed;
a stop that filled while the bot was slow to hear of it (or down: the fill read at the restart)
then kept the symbol out of the market for the cooldown again from that moment, refusing
entries the configuration allows.

Rules of tests/trading/conftest.py: cooldown 120 s, stop 1 %. Long 1 @ 100 at t=1000 (fee
100 * 0.0005 = 0.05), stop 99.0. The stop's fill is reported at t=1600 dated t=1100 (ms on the
wire): gross (99.0 - 100) * 1 = -1, fees 0.05 + 99.0 * 0.0005 = 0.0995, net -1.0995, a loss.
The cooldown ends at 1100 + 120 = 1220, long past at 1600: the next signal enters.
"""

from __future__ import annotations

from decimal import Decimal

from tests.trading.conftest import make_rules
from tests.trading.scenario import Scenario
from trading.decide import SymbolCore
from trading.events import OrderFilled, PriceTicked, SignalRaised
from trading.model import OrderPurpose, Phase, Side

D = Decimal


def test_the_cooldown_runs_from_the_stop_fill_not_from_its_report():
    sc = Scenario(SymbolCore(make_rules()))
    sc.send(PriceTicked(price=D("100")))
    sc.send(SignalRaised(side=Side.LONG))
    stop = sc.state.active_stop()
    assert stop is not None and stop.stop_price == D("99.0") and sc.now == 1000.0
    sc.send(OrderFilled(client_order_id=stop.client_order_id, exchange_id="x1", filled=D("1"),
                        average=D("99.0"), fee=D("0.0495"), filled_at=1_100_000), dt=600.0)
    closed = [j for j in sc.journal() if j.type == "PositionClosed"]
    assert [(j.data["reason"], j.data["net_pnl"]) for j in closed] == [("stop_loss", "-1.0995")]
    assert sc.state.phase is Phase.FLAT
    assert sc.state.cooldown_until == 1220.0
    sc.send(PriceTicked(price=D("99")))
    sc.send(SignalRaised(side=Side.LONG))
    assert sc.state.phase is Phase.OPEN, sc.journal()[-1]
    entries = [p for p in sc.placed if p.order.purpose is OrderPurpose.ENTRY]
    assert len(entries) == 2
