"""An old stop whose cancel failed, two trailing moves ago, and that the venue then lists no
more must not bring our books' stop back down to its level.

Found by review: after the trailing stop moved the exchange stop twice (A -> B -> C) and A's
cancel failed (a timeout: it may well have happened), A stayed live in our books, and once C
replaced B nothing named A as replaced any more. When a reconciliation then missed A (it was
gone after all), `_replace_missing_stop` placed a new stop at A's level, the initial one: the
believed stop fell from C's level back to it (a stop the trailing had left behind, plus an
extra conditional order), until the next price moved it up again. A stop that a newer resting
stop of the position covers is not replaced: the newer one protects, and the old one ends at
its second miss as any acknowledged order does.

The production decision loop (tests/trading/scenario.py) and the one-way core."""

from __future__ import annotations

from decimal import Decimal as D

from tests.trading.conftest import make_rules
from tests.trading.scenario import Scenario
from trading.commands import CancelOrder, Command, PlaceOrder
from trading.decide import SymbolCore
from trading.events import (
    Event,
    ExchangeOrder,
    ExchangePosition,
    PriceTicked,
    Reconciled,
    SignalRaised,
)
from trading.model import OrderPurpose, OrderStatus, Side


class CancelFailsOnce(Scenario):
    """The first cancel of a stop times out (no answer); the others are confirmed."""

    timed_out: str | None = None

    def _execute(self, cmd: Command) -> list[Event]:
        if isinstance(cmd, CancelOrder) and self.timed_out is None:
            self.timed_out = cmd.client_order_id
            return []
        return super()._execute(cmd)


def test_a_lingering_old_stop_missed_once_does_not_lower_the_stop():
    sc = CancelFailsOnce(SymbolCore(make_rules()))
    sc.send(PriceTicked(price=D("100")), dt=1)
    sc.send(SignalRaised(side=Side.LONG), dt=1)
    first = sc.state.active_stop()
    assert first is not None and first.stop_price == D("99")
    sc.send(PriceTicked(price=D("101")), dt=1)  # the trailing stop moves it (first cancel fails)
    sc.send(PriceTicked(price=D("102")), dt=1)  # and again (this cancel is confirmed)
    assert sc.timed_out == first.client_order_id
    stops = [o for o in sc.state.live_orders(OrderPurpose.STOP) if o.status is OrderStatus.OPEN]
    assert [o.client_order_id for o in stops][0] == first.client_order_id and len(stops) == 2
    newest = stops[-1]
    assert sc.state.stop_price == newest.stop_price == D("101.6")
    pos = sc.state.position
    start = len(sc.decisions)
    sc.send(Reconciled(  # the venue lists the newest stop, not the old one (its cancel happened)
        position=ExchangePosition(side=Side.LONG, contracts=pos.contracts, entry_price=D("100")),
        orders={newest.client_order_id: ExchangeOrder(
            client_order_id=newest.client_order_id, exchange_id=newest.exchange_id,
            status="open", filled=D(0), average=None, fee=D(0))},
        price=D("102")), dt=1)
    placed = [c.order for d in sc.decisions[start:] for c in d.commands
              if isinstance(c, PlaceOrder)]
    assert not placed, [(o.stop_price, o.replaces) for o in placed]
    assert sc.state.stop_price == D("101.6")


def test_a_lingering_old_stop_still_resting_is_cancelled_again():
    """The same old stop, still resting on the venue (its cancel really failed): nothing named
    it as replaced once the second move's stop had replaced the first move's, so it was never
    cancelled again and rested for the position's life, one more conditional order against the
    venue's cap (Binance: 10 per symbol; the entry gate counts 2 per position), and one more
    after every move whose cancel failed. A resting stop that a tighter resting stop of the
    position, as large, covers is cancelled again by the reconciliation."""
    sc = CancelFailsOnce(SymbolCore(make_rules()))
    sc.send(PriceTicked(price=D("100")), dt=1)
    sc.send(SignalRaised(side=Side.LONG), dt=1)
    first = sc.state.active_stop()
    sc.send(PriceTicked(price=D("101")), dt=1)
    sc.send(PriceTicked(price=D("102")), dt=1)
    stops = [o for o in sc.state.live_orders(OrderPurpose.STOP) if o.status is OrderStatus.OPEN]
    assert [o.client_order_id for o in stops][0] == first.client_order_id and len(stops) == 2
    pos = sc.state.position
    start = len(sc.decisions)
    sc.send(Reconciled(  # the venue lists both stops: the old one's cancel failed
        position=ExchangePosition(side=Side.LONG, contracts=pos.contracts, entry_price=D("100")),
        orders={o.client_order_id: ExchangeOrder(
            client_order_id=o.client_order_id, exchange_id=o.exchange_id, status="open",
            filled=D(0), average=None, fee=D(0)) for o in stops},
        price=D("102")), dt=1)
    canceled = [c.client_order_id for d in sc.decisions[start:] for c in d.commands
                if isinstance(c, CancelOrder)]
    assert canceled == [first.client_order_id]
    assert [o.client_order_id for o in sc.state.live_orders(OrderPurpose.STOP)] == [
        stops[-1].client_order_id]
    assert sc.state.stop_price == D("101.6")
