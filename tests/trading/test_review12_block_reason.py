"""An entry refused while entries are blocked names what blocked them (review 12, defect 4:
`BlockEntries(reason=...)` was kept only as a boolean, so an entry refused by the daily loss
limit was journaled as "entries are blocked (kill switch or shutdown)"). Both styles keep the
reason; a state restored without one (rows written before it) still refuses, in general words."""

from __future__ import annotations

import json
from decimal import Decimal as D

from storage import grid_codec
from tests.trading.scenario import Scenario
from tests.trading.test_grid_core import SYMBOL, Book
from trading.decide import SymbolCore
from trading.events import EntriesBlocked, PriceTicked, SignalRaised
from trading.grid.model import GridState
from trading.model import Phase, Side, SymbolState

DAILY = "daily loss limit: -0.05 USDT today (limit -0.01)"


def _skips(decision) -> list[str]:  # noqa: ANN001
    return [j.data["reason"] for j in decision.journal if j.type == "SignalSkipped"]


def test_a_refused_entry_names_the_protection_that_blocked_it(core: SymbolCore):
    sc = Scenario(core)
    sc.send(PriceTicked(price=D("100")))
    blocked = sc.send(EntriesBlocked(blocked=True, reason=DAILY))
    assert [(j.type, j.data["reason"]) for j in blocked.journal] == [("EntriesBlocked", DAILY)]
    d = sc.send(SignalRaised(side=Side.LONG, signal_id="s1"))
    assert not d.commands and _skips(d) == [f"entries are blocked: {DAILY}"]
    # another reason while still blocked: the refusal follows it (nothing new journaled)
    assert not sc.send(EntriesBlocked(blocked=True, reason="kill switch")).journal
    d = sc.send(SignalRaised(side=Side.LONG, signal_id="s2"))
    assert _skips(d) == ["entries are blocked: kill switch"]
    sc.send(EntriesBlocked(blocked=False, reason="protections clear"))
    assert sc.state.entries_blocked_reason is None
    sc.send(SignalRaised(side=Side.LONG, signal_id="s3"))
    assert sc.state.phase is not Phase.FLAT  # allowed again: the entry went out


def test_a_block_without_a_reason_still_refuses(core: SymbolCore):
    sc = Scenario(core, state0=SymbolState(symbol=core.rules.symbol, entries_blocked=True))
    sc.send(PriceTicked(price=D("100")))
    d = sc.send(SignalRaised(side=Side.LONG, signal_id="s1"))
    assert not d.commands and _skips(d) == ["entries are blocked (kill switch, shutdown or a "
                                            "protection)"]


def test_the_grid_keeps_the_reason_too():
    b = Book()
    b.send(PriceTicked(price=D(100)))
    b.send(EntriesBlocked(blocked=True, reason=DAILY))
    assert b.state.entries_blocked and b.state.entries_blocked_reason == DAILY
    b.send(EntriesBlocked(blocked=True, reason="kill switch"))
    assert b.state.entries_blocked_reason == "kill switch"
    b.send(EntriesBlocked(blocked=False, reason="protections clear"))
    assert not b.state.entries_blocked and b.state.entries_blocked_reason is None


def test_a_stored_grid_document_without_the_reason_restores():
    legacy = json.loads(grid_codec.dumps(GridState(symbol=SYMBOL, entries_blocked=True)))
    legacy.pop("entries_blocked_reason", None)
    restored = grid_codec.loads(SYMBOL, json.dumps(legacy))
    assert restored.entries_blocked and restored.entries_blocked_reason is None
