"""While the exchange lists the position on the other side than ours (SIDE_MISMATCH: our long
flipped to a short by hand), an exit signal must not send a close for our side.

Found by review: the quarantine kept entries out and held our stop and our own exits on the
price (`quarantine.mismatched`), but an exit signal (the strategy's exit as the price came back
to its mean, or an external exit) still started a close of our long: a reduce-only sell the
venue refuses on a short, counted (with max_close_attempts = 1 escalated at once into the
emergency close, which closes the exchange's position: the short a person was alerted to decide
on), and the symbol was left closing for good. Now the exit is skipped (an external one is
journaled, naming why); the position stays as it is for a person.

Real pykka actors, the real supervisor, real SQLite and the paper exchange (tests/support)."""

from __future__ import annotations

from actors.messages import Reconcile, Timer
from storage import queries
from tests.actors.test_side_mismatch_keeps_owner_stop import flip_by_hand, long_protected
from tests.support.harness import Harness

BTC = "BTC/USDT:USDT"


def test_an_exit_signal_while_the_sides_differ_sends_no_close(tmp_path) -> None:  # noqa: ANN001
    h = Harness(tmp_path, [BTC]).start()
    try:
        ours = long_protected(h)
        flip_by_hand(h, ours)
        assert h.exchange_position(BTC).side == "short"
        assert h.sup.tell(BTC, Reconcile(reason="test"))
        h.idle(BTC)
        assert h.view(BTC).quarantined
        mismatch = [e["type"] for e in queries.events(BTC)].index("PositionSideMismatch")
        assert h.signal(BTC, None)  # an exit
        h.idle(BTC)
        for _ in range(10):  # heartbeats past every close backoff
            h.clock.advance(10)
            assert h.sup.tell(BTC, Timer())
            h.idle(BTC)
        events = queries.events(BTC)[mismatch:]
        types = [e["type"] for e in events]
        assert "CloseRequested" not in types, "a close of our side was sent while mismatched"
        assert "Escalated" not in types and "OrderFailed" not in types
        skipped = [e["data"]["reason"] for e in events if e["type"] == "SignalSkipped"]
        assert skipped and "side differs from exchange" in skipped[-1]
        short = h.exchange_position(BTC)
        assert short is not None and short.side == "short" and short.contracts == ours
    finally:
        h.stop()
