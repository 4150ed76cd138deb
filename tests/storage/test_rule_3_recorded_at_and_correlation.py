"""Rule 3: events carry `created_at` (when it happened: the decision's clock) and `recorded_at`
(when committed: the repository's clock), and a correlation id shared by everything one message
caused. Real SQLite repository; the correlation test runs the real actor on the paper exchange."""

from __future__ import annotations

import sqlite3
from decimal import Decimal

from storage.repository import Repository
from tests.support.harness import Harness
from tests.trading.conftest import make_rules
from trading.decide import SymbolCore
from trading.events import EntriesBlocked, SignalRaised
from trading.model import Side

BTC = "BTC/USDT:USDT"


def rows(path, *types: str) -> list[tuple]:
    marks = ",".join("?" * len(types))
    with sqlite3.connect(path) as c:
        return c.execute(f"SELECT type, correlation_id, created_at, recorded_at FROM events "
                         f"WHERE type IN ({marks}) ORDER BY id", types).fetchall()


def test_a_commit_stores_when_it_happened_and_when_it_was_recorded(tmp_path):
    repo = Repository(tmp_path / "bot.sqlite", synchronous="normal", clock=lambda: 105.0)
    try:
        incarnation = repo.claim(BTC)
        before = repo.load(BTC)
        decision = SymbolCore(make_rules()).decide(
            before, EntriesBlocked(blocked=True, reason="test"), 100.0)
        assert [j.type for j in decision.journal] == ["EntriesBlocked"]
        repo.commit(BTC, incarnation, before, decision, correlation_id="c-1", created_at=100.0)
        repo.record(BTC, "SignalReceived", {"signal_id": "s-1"}, correlation_id="s-1",
                    created_at=99.0)
    finally:
        repo.close()
    path = tmp_path / "bot.sqlite"
    assert rows(path, "EntriesBlocked") == [("EntriesBlocked", "c-1", 100.0, 105.0)]
    assert rows(path, "SignalReceived") == [("SignalReceived", "s-1", 99.0, 105.0)]


class OneEntry:
    """A strategy that asks for one long entry on its first price (no signal id: the loop makes
    the correlation id)."""

    name = "one-entry"

    def __init__(self) -> None:
        self.fired = False

    def on_price(self, price: Decimal, volume, now, position):  # noqa: ANN001, ANN201
        if self.fired:
            return None
        self.fired = True
        return SignalRaised(side=Side.LONG, reason="test")


def test_every_journal_row_one_message_caused_shares_one_correlation_id(tmp_path):
    h = Harness(tmp_path, [BTC], strategy_for=lambda s: OneEntry()).start()
    try:
        h.poll()  # one price: the strategy's entry, its fill, the stop: several decisions
        h.idle(BTC)
        assert h.view(BTC).phase == "open" and h.view(BTC).protected
    finally:
        h.stop()
    chain = rows(tmp_path / "bot.sqlite", "EntryRequested", "PositionOpened", "StopRequested",
                 "StopPlaced")
    types = [r[0] for r in chain]
    assert types[0] == "EntryRequested" and "PositionOpened" in types and "StopPlaced" in types
    ids = {r[1] for r in chain}
    assert len(ids) == 1 and "" not in ids, chain
