"""A replaced actor that wakes publishes nothing over its successor's view.

Found by review: every actor publishes its state into the account's shared `views` (the status
dump, the stop watch, the stream position check and the exchange sweep read it, never asking
the actor). A hung incarnation the supervisor replaced went on publishing when it woke: its
stale state stood over its successor's until the successor handled its next message, and the
stop watch and status dump read the old state. Now an incarnation publishes only while no
successor was issued (checked under the fence board's lock, so none is issued in between); a
revoked one with no successor yet still publishes what it commits, as before. Real
supervisor, fences, pykka actors and SQLite; the strategy hangs on its first price until the
test lets it go."""

from __future__ import annotations

import dataclasses
import threading
from typing import Any

from exchange.fence import FenceBoard
from supervision.restart_policy import RestartPolicy
from tests.support.harness import Harness
from tests.support.waiting import wait_until
from trading.events import SignalRaised

BTC = "BTC/USDT:USDT"


class HangsOnFirstPrice:
    """Hangs on its first price, then asks out of a position it does not hold (a decision that
    changes nothing: nothing to commit, the state is published)."""

    name = "hangs"

    def __init__(self) -> None:
        self.release = threading.Event()
        self.hung: list[threading.Thread] = []

    def on_price(self, price, volume, now, position):  # noqa: ANN001
        if not self.hung:
            self.hung.append(threading.current_thread())
            self.release.wait(30)
            return SignalRaised(side=None, reason="hung strategy")
        return None


class Writes(dict):
    """The shared views, recording which thread wrote each symbol's view."""

    def __init__(self) -> None:
        super().__init__()
        self.writers: list[threading.Thread] = []
        self.lock = threading.Lock()

    def __setitem__(self, key: str, value: Any) -> None:
        with self.lock:
            self.writers.append(threading.current_thread())
            super().__setitem__(key, value)


def test_a_replaced_actor_that_wakes_does_not_publish_over_its_successor(tmp_path):
    strategy = HangsOnFirstPrice()
    h = Harness(tmp_path, [BTC], strategy_for=lambda s: strategy, heartbeat_interval_s=0.05,
                heartbeat_timeout_s=0.3,
                policy=RestartPolicy(max_restarts=3, period_s=60, backoff_initial_s=0.01,
                                     backoff_max_s=0.1, stable_after_s=30))
    views = Writes()
    h.deps = dataclasses.replace(h.deps, fences=h.sup.fences, views=views)
    h.start()
    try:
        old = h.child(BTC).ref
        h.poll()
        wait_until(lambda: strategy.hung, message="the actor hung in its first price")
        wait_until(lambda: h.child(BTC).restarts == 1 and h.child(BTC).state.value == "running"
                   and h.child(BTC).ref is not old, message="the successor running")
        with views.lock:
            seen = len(views.writers)
        strategy.release.set()
        wait_until(lambda: not old.is_alive(), message="the old actor stopped")
        with views.lock:
            late = views.writers[seen:]
        assert strategy.hung[0] not in late  # the woken zombie published nothing
    finally:
        strategy.release.set()
        h.stop()


def test_only_an_incarnation_with_no_successor_publishes():
    board, written = FenceBoard(), []
    first = board.issue(BTC)
    board.revoke(BTC)  # given up on, no successor yet: what it commits is what one restores
    assert board.unless_succeeded(first, lambda: written.append(1))
    second = board.issue(BTC)
    assert not board.unless_succeeded(first, lambda: written.append(1))
    board.revoke(BTC)  # the successor failed too: the older one still never publishes over it
    assert not board.unless_succeeded(first, lambda: written.append(1))
    assert board.unless_succeeded(second, lambda: written.append(2))
    assert written == [1, 2]
