"""Once the exchange lists our side again after a side mismatch (the symbol stays quarantined
for a person to lift, reason SIDE_AGREES_AGAIN), our exits act again; a close of one that
failed must be retried and escalate like any other.

Found by review: the close retries (and the reconciliation's restart of a stalled close, the
escalation after failing reconciliations, the next slice of a large close) were held for every
quarantine, this one too. An exit whose first close failed left the symbol closing for good:
one attempt, never counted further, the trailing stop and the take-profit off (a closing
position is not trailed), until a person resumed it. Now it is retried with the close backoff
and escalates after max_close_attempts, as without a quarantine.

The production decision loop (tests/trading/scenario.py) and the one-way core; the test plays
the venue."""

from __future__ import annotations

from decimal import Decimal as D

from tests.trading.conftest import make_rules
from tests.trading.scenario import Scenario
from trading.commands import Command, PlaceOrder
from trading.decide import SymbolCore
from trading.events import (
    Event,
    ExchangeOrder,
    ExchangePosition,
    OrderFailed,
    PriceTicked,
    Reconciled,
    SignalRaised,
    TimerFired,
)
from trading.model import OrderPurpose, Phase, Side
from trading.quarantine import SIDE_AGREES_AGAIN


class FailingCloses(Scenario):
    failing = False

    def _execute(self, cmd: Command) -> list[Event]:
        if self.failing and isinstance(cmd, PlaceOrder) \
                and cmd.order.purpose is OrderPurpose.CLOSE:
            self.placed.append(cmd)
            return [OrderFailed(client_order_id=cmd.order.client_order_id, error="busy",
                                never_reached=False)]
        return super()._execute(cmd)

    def reconcile(self, side: Side) -> None:
        pos = self.state.position
        assert pos is not None
        self.send(Reconciled(
            position=ExchangePosition(side=side, contracts=pos.contracts, entry_price=D(100)),
            orders={o.client_order_id: ExchangeOrder(
                client_order_id=o.client_order_id, exchange_id=o.exchange_id, status="open",
                filled=D(0), average=None, fee=D(0)) for o in self.state.orders},
            price=D(100)), dt=1)


def _closes(sc: Scenario) -> int:
    return sum(1 for p in sc.placed if p.order.purpose is OrderPurpose.CLOSE)


def test_a_failed_close_is_retried_once_the_sides_agree_again():
    sc = FailingCloses(SymbolCore(make_rules(max_close_attempts=3)))
    sc.send(PriceTicked(price=D("100")), dt=1)
    sc.send(SignalRaised(side=Side.LONG), dt=1)
    sc.reconcile(Side.SHORT)  # flipped by hand: quarantined for a person
    sc.reconcile(Side.LONG)  # set right again: still quarantined, our exits act
    assert sc.state.quarantine_reason == SIDE_AGREES_AGAIN
    sc.failing = True
    sc.send(SignalRaised(side=None, reason="exit", signal_id="out"), dt=1)
    assert sc.state.phase is Phase.CLOSING and _closes(sc) == 1
    sc.failing = False
    for _ in range(10):  # the close backoff (1 s) has run out
        sc.send(TimerFired(), dt=1)
    assert _closes(sc) == 2, "the failed close was never retried"
    assert sc.state.position is None and sc.state.phase is Phase.FLAT


def test_failing_closes_escalate_once_the_sides_agree_again():
    sc = FailingCloses(SymbolCore(make_rules(max_close_attempts=3)))
    sc.send(PriceTicked(price=D("100")), dt=1)
    sc.send(SignalRaised(side=Side.LONG), dt=1)
    sc.reconcile(Side.SHORT)
    sc.reconcile(Side.LONG)
    sc.failing = True
    sc.send(SignalRaised(side=None, reason="exit", signal_id="out"), dt=1)
    for _ in range(60):
        sc.send(TimerFired(), dt=1)
    assert _closes(sc) == 3
    assert sc.state.quarantine_reason == "close failed 3 times"
    assert "Escalated" in sc.journal_types()
