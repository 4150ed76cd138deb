"""A tiny driver that plays the exchange's part for decision-core tests (no I/O)."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from trading.commands import CancelOrder, Command, PlaceOrder
from trading.decide import SymbolCore
from trading.decision import Decision
from trading.events import Event, OrderAccepted, OrderCanceled, OrderFilled
from trading.model import SymbolState


@dataclass
class Scenario:
    core: SymbolCore
    state: SymbolState = None  # type: ignore[assignment]
    now: float = 1000.0
    fee_rate: Decimal = Decimal("0.0005")
    decisions: list[Decision] = field(default_factory=list)
    placed: list[PlaceOrder] = field(default_factory=list)
    canceled: list[CancelOrder] = field(default_factory=list)
    auto_exchange: bool = True

    def __post_init__(self) -> None:
        if self.state is None:
            self.state = SymbolState(symbol=self.core.rules.symbol)

    def send(self, event: Event, dt: float = 0.0) -> Decision:
        self.now += dt
        d = self.core.decide(self.state, event, self.now)
        self.state = d.state
        self.decisions.append(d)
        if self.auto_exchange:
            for cmd in d.commands:
                for ev in self.exchange_reply(cmd):
                    self.send(ev)
        return d

    def exchange_reply(self, cmd: Command) -> list[Event]:
        if isinstance(cmd, PlaceOrder):
            self.placed.append(cmd)
            o = cmd.order
            if o.stop_price is not None:
                return [OrderAccepted(client_order_id=o.client_order_id, exchange_id="x" + o.client_order_id)]
            price = self.state.last_price
            return [OrderFilled(client_order_id=o.client_order_id, exchange_id="x" + o.client_order_id,
                                filled=o.amount, average=price, fee=o.amount * price * self.fee_rate)]
        if isinstance(cmd, CancelOrder):
            self.canceled.append(cmd)
            return [OrderCanceled(client_order_id=cmd.client_order_id)]
        return []

    def journal_types(self) -> list[str]:
        return [j.type for d in self.decisions for j in d.journal]

    def ledger(self):
        return [l for d in self.decisions for l in d.ledger]
