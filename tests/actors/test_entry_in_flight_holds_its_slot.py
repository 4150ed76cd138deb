"""An entry sent and not answered yet holds its slot of `risk.max_open_positions`
(trading/exposure.py `one_way_held`: entering counts). Mutation audit (helper y): with an entry
in flight counted as nothing, no test failed (on the paper exchange a market entry fills within
its create call, so the wave test never sees the gap). Live, an entry's answer takes a round
trip, longer under load or with an order that rests: meanwhile the loop settled the symbol's
slot back to the gate (actors/loop.py settles after every decision), a second symbol was
admitted past the cap, and both entries filled: two positions on an account allowed one.

Production's DecisionLoop for two symbols sharing one AccountGate (cap 1); the exchange's part
is played by the test: the first entry is sent and not answered.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from actors.cores import as_core
from actors.entry_gate import AccountGate
from actors.loop import DecisionLoop
from tests.trading.conftest import make_rules
from tests.trading.scenario import MemoryRepository, QuietLog
from trading.commands import PlaceOrder
from trading.decide import SymbolCore
from trading.events import OrderFilled, PriceTicked, SignalRaised
from trading.model import OrderPurpose, Phase, Side, SymbolState


def test_an_unanswered_entry_keeps_the_next_symbol_out_at_a_cap_of_one():
    gate = AccountGate(max_open_positions=1, clock=lambda: 1000.0)
    sent: dict[str, list[PlaceOrder]] = {}
    loops: dict[str, DecisionLoop] = {}
    for symbol in ("BTC/USDT:USDT", "ETH/USDT:USDT"):
        rules = replace(make_rules(), symbol=symbol)
        box = sent.setdefault(symbol, [])
        loop = DecisionLoop(
            symbol, core=as_core(SymbolCore(rules)), exchange=None,  # type: ignore[arg-type]
            repo=MemoryRepository(SymbolState(symbol=symbol)),  # type: ignore[arg-type]
            log=QuietLog(), on_escalate=lambda s, e: None, clock=lambda: 1000.0, gate=gate,
            execute=lambda cmd, box=box: box.append(cmd) or [] if isinstance(cmd, PlaceOrder)
            else [])
        loop.adopt(SymbolState(symbol=symbol))
        loop.apply(PriceTicked(price=Decimal(100)))
        loops[symbol] = loop
    btc, eth = loops["BTC/USDT:USDT"], loops["ETH/USDT:USDT"]
    btc.apply(SignalRaised(side=Side.LONG, signal_id="a"))
    (entry,) = [c.order for c in sent["BTC/USDT:USDT"]]
    assert entry.purpose is OrderPurpose.ENTRY and btc.state.phase is Phase.ENTERING
    eth.apply(SignalRaised(side=Side.LONG, signal_id="b"))
    assert sent["ETH/USDT:USDT"] == [], "a second entry left past the cap"
    assert gate.open_positions() == 1
    assert eth.state.phase is Phase.FLAT
    # the first entry's fill arrives: one position, the slot still held
    btc.apply(OrderFilled(client_order_id=entry.client_order_id, exchange_id="x1",
                          filled=entry.amount, average=Decimal(100), fee=Decimal("0.05")))
    assert btc.state.phase is Phase.OPEN and gate.open_positions() == 1
