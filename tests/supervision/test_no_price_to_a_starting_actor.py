"""A starting actor is told no price: only order reports reach it before its start is reported
(supervision/child.py `open_for`).

Mutation audit (helper t): letting every message reach a starting actor failed no test. Prices
sent while its start waited (a restore and a reconcile can take ~100 s under a short rate
budget) then queued in its mailbox and were handled after the start, each as if current: stop
and trailing decisions on prices up to the length of the start old.

Real actors, supervisor, SQLite and paper exchange; BTC's restore waits on a gate (a repository
given to the constructor), so BTC is still starting while the prices come."""

from __future__ import annotations

import threading
from decimal import Decimal
from typing import Any

import pykka
import pytest

from actors.messages import OrderActivity
from storage.repository import Repository
from supervision.child import ChildState
from tests.support.harness import Harness
from tests.support.waiting import wait_until

BTC, ETH = "BTC/USDT:USDT", "ETH/USDT:USDT"


class SlowRestore(Repository):
    gate = threading.Event()
    entered = threading.Event()

    def load(self, symbol: str, *args: Any, **kwargs: Any) -> Any:
        if symbol == BTC:
            self.entered.set()
            self.gate.wait(30)
        return super().load(symbol, *args, **kwargs)


@pytest.fixture(autouse=True)
def _stop_actors():
    SlowRestore.gate.clear()
    SlowRestore.entered.clear()
    yield
    SlowRestore.gate.set()
    pykka.ActorRegistry.stop_all(block=False)


def test_prices_do_not_reach_an_actor_still_starting(tmp_path):
    h = Harness(tmp_path, [BTC, ETH], repository=SlowRestore)
    try:
        h.start(wait=False)
        assert SlowRestore.entered.wait(10), "BTC's restore began"
        wait_until(lambda: h.child(ETH).state is ChildState.RUNNING, message="ETH runs")
        assert h.child(BTC).state is ChildState.STARTING
        assert not h.tick(BTC, Decimal("60000")), "a price was delivered to a starting actor"
        assert h.tick(ETH, Decimal("3000"))  # a running one takes it
        assert h.sup.tell(BTC, OrderActivity())  # an order report waits for the start
        SlowRestore.gate.set()
        wait_until(lambda: h.child(BTC).state is ChildState.RUNNING, message="BTC runs")
        h.idle(BTC)
        view = h.view(BTC)
        assert view is not None and view.last_tick_at is None  # no price handled after start
    finally:
        SlowRestore.gate.set()
        h.stop()
