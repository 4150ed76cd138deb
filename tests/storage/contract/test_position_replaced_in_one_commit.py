"""Storage contract: a decision whose state holds a new position in place of the one before
(the old one closed and the rest of its entry filled as a position of its own, `<id>-rest`,
trading/lifecycle.py, both told in one reconciliation) closes the old row in the same commit,
with its closing fill's P&L and fee, and opens the new one.

Found by the incident-rule mutation audit (helper s): with `_position` closing the old row only
when no position is left (storage/commit_sql.py:274, `pos is None`), no test failed. The old
row then stayed `open` beside the new: the next restore found two open positions and
quarantined the symbol as unreadable (its live position unmanaged until a person resumed it),
and the closed position's loss never reached its row (the trades list, the daily figures).
Real repository on each engine; the decision is built by hand (the core makes it rarely)."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal as D

from storage import queries
from tests.storage.contract.backends import Backend
from tests.storage.contract.test_state import SYM, opened
from trading.commands import LedgerEntry
from trading.decision import Decision
from trading.model import Phase, Position


def test_a_position_replaced_in_one_commit_closes_the_old_row(backend: Backend):
    repo = backend.open()
    inc, sc = opened(repo)
    before = sc.state
    old = before.position
    assert old is not None and before.phase is Phase.OPEN
    rest = Position(position_id=f"{old.position_id}-rest", side=old.side,
                    contracts=D("0.5"), entry_price=D("100.2"), opened_at=sc.now + 2)
    closing = LedgerEntry(client_order_id="stop-of-old", position_id=old.position_id,
                          side="sell", amount=old.contracts, price=D("99"), fee=D("0.03"),
                          realized_pnl=D("-1.25"), at=sc.now + 1)
    decision = Decision(state=replace(before, position=rest), ledger=(closing,))
    repo.commit(SYM, inc, before, decision, correlation_id="r", created_at=sc.now + 2)

    rows = {p.position_id: p for p in repo.read(queries.positions, SYM)}
    assert rows[old.position_id].status == "closed"
    assert D(rows[old.position_id].realized_pnl) == old.realized_pnl + D("-1.25")
    assert D(rows[old.position_id].fees) == old.fees + D("0.03")
    assert rows[old.position_id].closed_at == sc.now + 1
    assert rows[rest.position_id].status == "open"
    loaded = repo.load(SYM)  # one open position: restored, not quarantined as unreadable
    assert loaded.position == rest and not loaded.quarantined
