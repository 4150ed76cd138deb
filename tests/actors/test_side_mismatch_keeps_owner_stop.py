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

from actors.messages import Reconcile, Timer
from storage import queries
from tests.support.harness import Harness
from tests.support.waiting import wait_until
from trading.model import Side

BTC = "BTC/USDT:USDT"


def long_protected(h: Harness) -> Decimal:
    """A price, then a long of 600 USDT opened by a signal and protected; its contracts."""
    h.poll()
    assert h.signal(BTC, Side.LONG, size="600")
    wait_until(lambda: h.view(BTC).protected, message="long open and protected")
    return h.exchange_position(BTC).contracts


def flip_by_hand(h: Harness, ours: Decimal) -> None:
    """Our long flipped to a short of the same size by hand (a market sell of twice it)."""
    h.paper.create_order(BTC, "market", "sell", ours * 2, None, {"clientOrderId": "flip-1"})


def _open_ids(h: Harness) -> set[str]:
    return {o.client_order_id for o in h.paper.fetch_open_orders(BTC)}


def test_the_stop_a_person_placed_for_the_flipped_position_stays(tmp_path) -> None:  # noqa: ANN001
    h = Harness(tmp_path, [BTC]).start()
    try:
        ours = long_protected(h)
        # by hand: the long is flipped to a short, protected by a stop of its own, and a
        # resting buy far below that could open a position is left behind
        flip_by_hand(h, ours)
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


def test_no_refused_stop_loop_while_the_sides_differ_and_protection_when_they_agree(
        tmp_path) -> None:  # noqa: ANN001
    """Our stop gone too (a person cancelled it, or the venue dropped the reduce-only order):
    the bot sent a stop for our long, a reduce-only sell the venue refuses on a short, every
    stop_retry_s (2 s) for as long as the mismatch lasted. None is sent now; once the exchange
    lists our side again, our stop is placed again at once (the quarantine stays for a person
    to lift)."""
    h = Harness(tmp_path, [BTC]).start()
    try:
        ours = long_protected(h)
        for o in h.paper.fetch_open_orders(BTC):
            h.paper.cancel_order(o.id, BTC)
        flip_by_hand(h, ours)
        assert h.sup.tell(BTC, Reconcile(reason="test"))
        h.idle(BTC)
        for _ in range(5):  # 15 s of heartbeats
            h.clock.advance(3)
            assert h.sup.tell(BTC, Timer())
            h.idle(BTC)
        types = [e["type"] for e in queries.events(BTC)]
        mismatch = types.index("PositionSideMismatch")
        assert "OrderFailed" not in types[mismatch:], "refused stops sent while mismatched"
        assert "StopRequested" not in types[mismatch:]
        assert h.view(BTC).quarantined
        # a person buys the short back and the long is there again
        h.paper.create_order(BTC, "market", "buy", ours * 2, None, {"clientOrderId": "flip-2"})
        assert h.exchange_position(BTC).side == "long"
        assert h.sup.tell(BTC, Reconcile(reason="test"))
        h.clock.advance(3)
        assert h.sup.tell(BTC, Timer())
        wait_until(lambda: h.view(BTC).protected, message="our long protected again")
        (stop,) = h.exchange_stops(BTC)
        assert stop.side == "sell" and stop.amount == ours
        assert h.view(BTC).quarantined  # a person lifts it
    finally:
        h.stop()
