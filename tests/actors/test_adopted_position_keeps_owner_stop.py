"""A position the bot did not open, adopted (`adopt_unknown_positions = true`, the default), came
with its owner's stop, a reduce-only order on the symbol nobody of ours owns. The adopting
reconciliation sends our stop and cancels that orphan in the same breath: when our stop was
refused (a 429, the venue's stop-order cap), the owner's stop was cancelled all the same and
the position was left with no stop at all until our retry got through. The owner's reduce-only
orders now stay while the position we hold has no stop of ours resting, and go at the first
reconciliation that finds ours there (two reduce-only stops never grow a position).

Real pykka actors, the real supervisor, real SQLite and the paper exchange (tests/support),
behind a wrapper given to the harness that refuses stop placements while told to."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from actors.messages import Reconcile, Timer
from exchange import errors
from storage import queries
from tests.support.harness import Harness
from tests.support.waiting import wait_until

BTC = "BTC/USDT:USDT"


class RefusingStops:
    """The paper exchange, but stop orders are refused while `refusing`."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.refusing = True
        self.refused = 0

    def create_order(self, symbol: str, type: str, side: str, amount: Any, price: Any = None,
                     params: dict[str, Any] | None = None) -> Any:
        p = params or {}
        if self.refusing and (p.get("stopLossPrice") or p.get("triggerPrice")):
            self.refused += 1
            raise errors.InvalidOrder("Reach max stop order limit")
        return self.inner.create_order(symbol, type, side, amount, price, params)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def _open_ids(h: Harness) -> set[str]:
    return {o.client_order_id for o in h.paper.fetch_open_orders(BTC)}


def test_the_owner_stop_stays_until_ours_rests(tmp_path) -> None:  # noqa: ANN001
    h = Harness(tmp_path, [BTC], wrap=RefusingStops)
    venue: RefusingStops = h.exchange
    # before the bot starts: a long opened by hand, with its own stop
    h.paper.create_order(BTC, "market", "buy", Decimal("0.01"), None, {"clientOrderId": "hand-1"})
    price = h.paper.fetch_tickers([BTC])[BTC].last
    level = h.paper.price_to_precision(BTC, price * Decimal("0.97"))
    h.paper.create_order(BTC, "market", "sell", Decimal("0.01"), None,
                         {"clientOrderId": "hand-stop", "stopLossPrice": level})
    h.start()
    try:
        wait_until(lambda: h.view(BTC) is not None and h.view(BTC).position is not None,
                   message="the hand position adopted")
        h.idle(BTC)
        assert venue.refused >= 1 and not h.view(BTC).protected
        assert "hand-stop" in _open_ids(h), "the adopted position's only stop was cancelled"
        # the venue takes stops again: ours rests, and the owner's goes at the next look
        venue.refusing = False
        h.clock.advance(3)
        assert h.sup.tell(BTC, Timer())
        wait_until(lambda: h.view(BTC).protected, message="our stop rests")
        assert h.sup.tell(BTC, Reconcile(reason="test"))
        h.idle(BTC)
        assert "hand-stop" not in _open_ids(h)
        (stop,) = h.exchange_stops(BTC)
        assert stop.amount == Decimal("0.01") and stop.client_order_id != "hand-stop"
        assert "PositionAdopted" in [e["type"] for e in queries.events(BTC)]
    finally:
        h.stop()
