"""Sibling of the hedge grid's level rest (trading/grid/handlers.py): the rest of an entry whose
part was stopped out opens a new position, `<id>-rest` (trading/lifecycle.py `_entry_filled`).
When that position is stopped out too and the entry's rest fills again before its cancel
lands, the next position was named `<id>-rest` as well: one position id named two positions,
and the second's row (`positions` is keyed by the id) overwrote the closed one's, its stop-loss
P&L gone from the trades. Pure core, driven through `decide`; its decisions committed in order
to a real SQLite store (storage/repository.py)."""

from __future__ import annotations

from decimal import Decimal as D
from pathlib import Path

from storage import queries
from storage.repository import Repository
from tests.trading.test_partial_fills import Core, assert_part_protected
from trading.decision import Decision
from trading.events import OrderAccepted
from trading.model import OrderPurpose, Phase, SymbolState


class Recorded(Core):
    """Core that keeps every decision, for the store."""

    def __init__(self) -> None:
        super().__init__()
        self.decisions: list[Decision] = []

    def send(self, event, at: float | None = None) -> Decision:
        decision = super().send(event, at)
        self.decisions.append(decision)
        return decision


def _rows(c: Recorded, path: Path) -> dict:
    repo = Repository(path)
    try:
        incarnation = repo.claim(c.state.symbol)
        before = SymbolState(symbol=c.state.symbol)
        for d in c.decisions:
            repo.commit(c.state.symbol, incarnation, before, d, correlation_id="c",
                        created_at=1000.0)
            before = d.state
        return {r.position_id: r for r in repo.read(queries.positions, c.state.symbol)}
    finally:
        repo.close()


def _stopped_out(c: Recorded, price: str) -> None:
    (stop,) = c.state.live_orders(OrderPurpose.STOP)
    c.send(OrderAccepted(client_order_id=stop.client_order_id, exchange_id="s" + price))
    c.report(stop, str(stop.amount), complete=True, price=price)
    assert c.state.phase is Phase.FLAT


def test_an_entry_rest_that_opens_a_position_twice_names_each_its_own(tmp_path: Path):
    c = Recorded()
    entry = c.entry()
    c.send(OrderAccepted(client_order_id=entry.client_order_id, exchange_id="x1"))
    c.report(entry, "0.5", complete=False)
    assert_part_protected(c)
    _stopped_out(c, "99")  # the part is stopped out; the entry's cancel goes out
    c.report(entry, "0.7", complete=False)  # 0.2 more filled (at 100) before it landed
    first = c.state.position.position_id
    _stopped_out(c, "98.5")  # that position is stopped out too: -0.3 (100 -> 98.5)
    c.report(entry, "0.9", complete=True)  # and 0.2 more filled (at 100)
    second = c.state.position
    assert second is not None and second.contracts == D("0.2")
    assert second.position_id != first, "one position id names two positions"
    rows = _rows(c, tmp_path / "bot.sqlite")
    closed = rows[first]
    assert (closed.status, D(closed.realized_pnl)) == ("closed", D("-0.3")), \
        "the closed position's row was overwritten by the next one's"
    assert rows[second.position_id].status == "open"
