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

from collections.abc import Callable
from dataclasses import replace
from decimal import Decimal
from typing import Any

import pytest

from actors.cores import as_core
from actors.entry_gate import AccountGate
from actors.loop import DecisionLoop
from tests.trading.conftest import make_rules
from tests.trading.scenario import MemoryRepository, QuietLog
from trading.commands import PlaceOrder
from trading.decide import SymbolCore
from trading.events import OrderFilled, PriceTicked, SignalRaised
from trading.model import OrderPurpose, Phase, Side, SymbolState


def _loops(gate: AccountGate, repo_for: Callable[[str], MemoryRepository] | None = None,
           ) -> tuple[dict[str, DecisionLoop], dict[str, list[PlaceOrder]]]:
    """BTC's and ETH's decision loops on `gate`, each priced at 100, and the orders each sent
    (`repo_for`: a symbol's repository, default one in memory)."""
    sent: dict[str, list[PlaceOrder]] = {}
    loops: dict[str, DecisionLoop] = {}
    for symbol in ("BTC/USDT:USDT", "ETH/USDT:USDT"):
        rules = replace(make_rules(), symbol=symbol)
        box = sent.setdefault(symbol, [])
        repo = (repo_for or (lambda s: MemoryRepository(SymbolState(symbol=s))))(symbol)
        loop = DecisionLoop(
            symbol, core=as_core(SymbolCore(rules)), exchange=None,  # type: ignore[arg-type]
            repo=repo,  # type: ignore[arg-type]
            log=QuietLog(), on_escalate=lambda s, e: None, clock=lambda: 1000.0, gate=gate,
            execute=lambda cmd, box=box: box.append(cmd) or [] if isinstance(cmd, PlaceOrder)
            else [])
        loop.adopt(SymbolState(symbol=symbol))
        loop.apply(PriceTicked(price=Decimal(100)))
        loops[symbol] = loop
    return loops, sent


def test_an_unanswered_entry_keeps_the_next_symbol_out_at_a_cap_of_one():
    gate = AccountGate(max_open_positions=1, clock=lambda: 1000.0)
    loops, sent = _loops(gate)
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


class CommitFails(MemoryRepository):
    """A repository whose commits raise once `failing` is set (a database error)."""

    failing = False

    def commit(self, *args: Any, **kwargs: Any) -> Any:
        if self.failing:
            raise OSError("disk I/O error")
        return super().commit(*args, **kwargs)


def test_an_entry_whose_commit_raises_gives_its_slot_back():
    """README (Entry gate): the reservation is "released when the entry fails";
    actors/entry_gate.py: "A decision that raises before its commit settles to the old
    state's exposure, releasing its reservation." Mutation audit (helper strat): with the
    loop forgetting that the gate reserved a slot in this `apply` (actors/loop.py `_admit`:
    `self._reserved = False`), no test failed: the state did not change, so nothing settled,
    and the slot stayed held. A strategy entry whose commit failed (a database error) then
    held its slot, and its margin, until that symbol's next decision: at a cap of one, every
    other symbol's entries were refused."""
    gate = AccountGate(max_open_positions=1, clock=lambda: 1000.0)
    repos: dict[str, CommitFails] = {}
    loops, sent = _loops(gate, lambda s: repos.setdefault(s, CommitFails(SymbolState(symbol=s))))
    btc, eth = loops["BTC/USDT:USDT"], loops["ETH/USDT:USDT"]
    repos["BTC/USDT:USDT"].failing = True
    with pytest.raises(OSError):
        btc.apply(SignalRaised(side=Side.LONG, reason="z=-2.00"))  # the strategy's entry
    assert btc.state.phase is Phase.FLAT and sent["BTC/USDT:USDT"] == []
    assert gate.open_positions() == 0, gate.held()
    eth.apply(SignalRaised(side=Side.LONG, reason="z=-2.00"))
    (entry,) = [c.order for c in sent["ETH/USDT:USDT"]]
    assert entry.purpose is OrderPurpose.ENTRY and gate.open_positions() == 1
