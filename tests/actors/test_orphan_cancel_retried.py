"""An orphan (an open order nobody of ours owns, rule 9) whose cancel failed for a temporary
reason (a timeout, a 429, the venue briefly down) was left resting until the next look: on a
flat live symbol with the streams up that is the next sweep, up to 300 s later, while an order
that can open a position may fill (found by review). The actor now looks again on its own
timer after a backoff (the close backoff) and cancels it then.

Real pykka actors, the real supervisor, real SQLite and the paper exchange (tests/support)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from actors.messages import Reconcile, Timer
from exchange import errors
from tests.support.harness import Harness
from tests.support.waiting import wait_until

BTC = "BTC/USDT:USDT"


class FailingCancels:
    """The paper exchange, but the next `failures` cancels time out."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.failures = 0
        self.failed = 0
        self.position_reads = 0  # one a reconciliation

    def cancel_order(self, id: str | None, symbol: str, params: Any = None) -> Any:  # noqa: A002
        if self.failures > 0:
            self.failures -= 1
            self.failed += 1
            raise errors.RequestTimeout("cancel_order timed out")
        return self.inner.cancel_order(id, symbol, params)

    def fetch_positions(self, symbols: Any = None, params: Any = None) -> Any:
        self.position_reads += 1
        return self.inner.fetch_positions(symbols, params)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def _open_ids(h: Harness) -> set[str]:
    return {o.client_order_id for o in h.paper.fetch_open_orders(BTC)}


def _harness(tmp_path) -> tuple[Harness, FailingCancels]:  # noqa: ANN001
    h = Harness(tmp_path, [BTC], wrap=FailingCancels)
    h.sup.schedule.interval_s = 3600.0  # a live venue, streams up: no periodic look at a flat
    h.sup.schedule.streamed_interval_s = 3600.0  # symbol; only the sweep (not run here) looks
    h.sup.schedule.streams_ok = lambda: True
    return h, h.exchange


def _orphan_cancel_failed(h: Harness, venue: FailingCancels, failures: int) -> None:
    """A stray buy far below the price, owned by no live order, whose cancel the venue then
    fails `failures` times; the sweep's reconciliation meets the first failure."""
    h.poll()
    price = h.paper.fetch_tickers([BTC])[BTC].last
    far = h.paper.price_to_precision(BTC, price * Decimal("0.5"))
    h.paper.create_order(BTC, "limit", "buy", Decimal("0.01"), far, {"clientOrderId": "stray-1"})
    venue.failures = failures
    assert h.sup.tell(BTC, Reconcile(reason="sweep: open order stray-1 owned by no live order"))
    h.idle(BTC)
    assert venue.failed == 1 and "stray-1" in _open_ids(h)


def _heartbeat(h: Harness) -> bool:
    """One heartbeat a second later; whether the orphan is gone."""
    h.clock.advance(1)
    assert h.sup.tell(BTC, Timer())
    h.idle(BTC)
    return "stray-1" not in _open_ids(h)


def test_an_orphan_whose_cancel_timed_out_is_cancelled_again_soon(tmp_path) -> None:  # noqa: ANN001
    h, venue = _harness(tmp_path)
    h.start()
    try:
        _orphan_cancel_failed(h, venue, failures=2)
        failed_at = h.clock()
        wait_until(lambda: _heartbeat(h), timeout=20,
                   message="the orphan cancelled again on the timer")
        assert venue.failed == 2  # it backed off: the second try failed too, the third worked
        assert h.clock() - failed_at <= 30, "within seconds of the venue, not the next sweep"
    finally:
        h.stop()


def test_once_the_orphan_is_cancelled_the_heartbeat_stops_reconciling(tmp_path) -> None:  # noqa: ANN001
    """Found by a mutation audit: with the failed cancel's look-again time left set after the
    reconciliation that cancelled the orphan (actors/reconcile_retry.py `succeeded`), no test
    failed, and every heartbeat from then on ran a whole reconciliation of the symbol (a
    position read, the open orders, the price: ~3-4 requests a second per such symbol) for
    as long as the bot ran."""
    h, venue = _harness(tmp_path)
    h.start()
    try:
        _orphan_cancel_failed(h, venue, failures=1)
        wait_until(lambda: _heartbeat(h), timeout=20,
                   message="the orphan cancelled again on the timer")
        reads = venue.position_reads
        for _ in range(120):  # two minutes of heartbeats on a flat, settled symbol
            _heartbeat(h)
        assert venue.position_reads == reads, "the heartbeat kept reconciling"
    finally:
        h.stop()
