"""A trigger order firing on one thread while another thread places an order on another
symbol: the free balance the trigger was afforded against must still be there when its fill
is committed (the "trigger-order balance race across threads").

The trigger's thread is held, by a barrier, between matching the price point (where it read
the free balance) and committing it; the other thread places its order in that gap. Real
threads, a real SQLite store, no sleeps.
"""

from __future__ import annotations

import threading
from decimal import Decimal as D
from pathlib import Path
from typing import Any

from exchange.paper import PaperExchange
from tests.exchange.paper.paper_support import BTC, ETH, FakeClock, Market, ScriptedPrices

BARRIER_TIMEOUT_S = 30  # a bound on a broken test, never a timing the test depends on


class HeldCommitExchange(PaperExchange):
    """The paper exchange whose first commit on `held_thread` waits at `barrier` twice: once
    to let the other thread start, once for it to finish (the test's only seam)."""

    def __init__(self, *, barrier: threading.Barrier, **kwargs: Any) -> None:
        self.barrier = barrier
        self.held_thread: threading.Thread | None = None
        self.held = False
        super().__init__(**kwargs)

    def _commit(self, *args: Any, **kwargs: Any) -> Any:
        if threading.current_thread() is self.held_thread and not self.held:
            self.held = True
            self.barrier.wait()  # the point is matched: the other thread may go
            self.barrier.wait()  # the other thread's order is committed
        return super()._commit(*args, **kwargs)


def test_a_trigger_fill_is_not_committed_against_a_balance_another_thread_spent(
    tmp_path: Path,
) -> None:
    clock = FakeClock()
    prices = ScriptedPrices({BTC: D("60000"), ETH: D("3000")})
    market = Market(clock, prices)
    barrier = threading.Barrier(2, timeout=BARRIER_TIMEOUT_S)
    ex = HeldCommitExchange(barrier=barrier, store_path=tmp_path / "paper.db",
                            symbols=[BTC, ETH], price_source=prices, clock=clock,
                            starting_balance=D("1000"))  # leverage 5
    try:
        # ~592 USDT of margin and fee when it fires; ETH's order below needs ~602: each fits
        # the 1000 USDT alone, not both
        ex.create_order(BTC, "market", "buy", D("0.05"), None,
                        {"triggerPrice": D("59000"), "triggerDirection": "below",
                         "clientOrderId": "dip"})
        market.move(BTC, "59000")
        outcome: dict[str, Any] = {}

        def fire_trigger() -> None:  # any call on BTC walks its points and fires the trigger
            outcome["dip"] = ex.fetch_order(None, BTC, {"clientOrderId": "dip"})

        def place_eth() -> None:
            barrier.wait()  # the trigger's point is matched, not committed
            try:
                outcome["eth"] = ex.create_order(ETH, "market", "buy", D("1"), None,
                                                 {"clientOrderId": "eth"})
            except Exception as exc:  # noqa: BLE001 - asserted below
                outcome["eth"] = exc
            finally:
                barrier.wait()

        trigger_thread = threading.Thread(target=fire_trigger)
        other = threading.Thread(target=place_eth)
        ex.held_thread = trigger_thread
        trigger_thread.start()
        other.start()
        trigger_thread.join()
        other.join()

        assert ex.held, "the trigger's commit was never reached"
        eth, dip = outcome["eth"], outcome["dip"]
        assert not isinstance(eth, Exception), eth  # it came first: it got the margin
        assert eth.status == "closed"
        assert dip.status == "rejected", f"the trigger filled beside it: {dip}"
        free = ex.fetch_balance().funds("USDT").free
        assert free >= 0, f"free balance {free} USDT: both were afforded against one balance"
        assert [(p.symbol, p.contracts) for p in ex.fetch_positions()] == [(ETH, D("1"))]
    finally:
        ex.close()
