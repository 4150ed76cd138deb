"""A position listed on the other side than ours (our long flipped to a short by hand) is a
person's to sort out: the symbol is quarantined and alerted (trading/reconcile.py
SIDE_MISMATCH), and our stop, a reduce-only sell, can never close that short. The stop a person
places for the short (a reduce-only buy) was cancelled as an orphan at every reconciliation, so
the exchange's real position was left without any stop while they looked. It stays now, as the
owner's stop of a flagged position does; an order that could open a position is still
cancelled (rule 9).

Real pykka actors, the real supervisor, real SQLite and the paper exchange (tests/support)."""

from __future__ import annotations

from decimal import Decimal

from actors.messages import Reconcile
from storage import queries
from tests.support.harness import Harness
from tests.support.waiting import wait_until
from trading.model import Side

BTC = "BTC/USDT:USDT"


def _open_ids(h: Harness) -> set[str]:
    return {o.client_order_id for o in h.paper.fetch_open_orders(BTC)}


def test_the_stop_a_person_placed_for_the_flipped_position_stays(tmp_path) -> None:  # noqa: ANN001
    h = Harness(tmp_path, [BTC]).start()
    try:
        h.poll()
        assert h.signal(BTC, Side.LONG, size="600")
        wait_until(lambda: h.view(BTC).protected, message="long open and protected")
        ours = h.exchange_position(BTC).contracts
        # by hand: the long is flipped to a short, protected by a stop of its own, and a
        # resting buy far below that could open a position is left behind
        h.paper.create_order(BTC, "market", "sell", ours * 2, None, {"clientOrderId": "flip-1"})
        assert h.exchange_position(BTC).side == "short"
        price = h.paper.fetch_tickers([BTC])[BTC].last
        level = h.paper.price_to_precision(BTC, price * Decimal("1.02"))
        h.paper.create_order(BTC, "market", "buy", ours, None,
                             {"clientOrderId": "hand-stop", "stopLossPrice": level})
        far = h.paper.price_to_precision(BTC, price * Decimal("0.5"))
        h.paper.create_order(BTC, "limit", "buy", ours, far, {"clientOrderId": "hand-buy"})
        for _ in range(2):  # the mismatch lasts: every reconciliation leaves the stop alone
            assert h.sup.tell(BTC, Reconcile(reason="test"))
            h.idle(BTC)
            assert "hand-stop" in _open_ids(h), "the flipped short's own stop was cancelled"
        assert "hand-buy" not in _open_ids(h)
        assert h.child(BTC).state.value == "quarantined" or h.view(BTC).quarantined
        types = [e["type"] for e in queries.events(BTC)]
        assert "PositionSideMismatch" in types
        canceled = [e["data"]["order"] for e in queries.events(BTC, "OrphanCanceled")]
        assert canceled == ["hand-buy"]
    finally:
        h.stop()
