"""A difference reconciliation keeps (a position flagged, not adopted; a position listed on the
other side than ours) was journaled again at every reconciliation: one row every 30 s for as
long as a person took to look (found by review). It is recorded once per episode now; the
quarantine and the escalation stay.

Real pykka actors, the real supervisor, real SQLite and the paper exchange (tests/support)."""

from __future__ import annotations

from decimal import Decimal

from actors.messages import Reconcile
from storage import queries
from tests.actors.test_side_mismatch_keeps_owner_stop import flip_by_hand, long_protected
from tests.support.harness import Harness

BTC = "BTC/USDT:USDT"


def _reconcile(h: Harness, times: int) -> None:
    for _ in range(times):
        assert h.sup.tell(BTC, Reconcile(reason="test"))
        h.idle(BTC)


def test_an_unknown_position_is_flagged_once_not_at_every_reconciliation(tmp_path) -> None:  # noqa: ANN001
    h = Harness(tmp_path, [BTC], risk={"adopt_unknown_positions": False})
    h.paper.create_order(BTC, "market", "buy", Decimal("0.5"), None, {"clientOrderId": "manual-1"})
    h.start()
    try:
        h.poll()
        _reconcile(h, 3)
        assert h.view(BTC).quarantined
        flagged = h.repo.read(queries.events, BTC, "UnknownPositionFlagged")
        assert len(flagged) == 1, f"flagged {len(flagged)} times for one position"
    finally:
        h.stop()


def test_a_side_mismatch_is_journaled_once_not_at_every_reconciliation(tmp_path) -> None:  # noqa: ANN001
    h = Harness(tmp_path, [BTC]).start()
    try:
        flip_by_hand(h, long_protected(h))
        _reconcile(h, 3)
        assert h.view(BTC).quarantined
        kept = h.repo.read(queries.events, BTC, "PositionSideMismatch")
        assert len(kept) == 1, f"journaled {len(kept)} times for one mismatch"
    finally:
        h.stop()
