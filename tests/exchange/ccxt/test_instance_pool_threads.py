"""The gateway's per-thread ccxt instances (exchange/ccxt/instances.py) when threads end: every
restarted actor incarnation and every emergency-close thread is a new thread. Before, each one
left its instance and its HTTP session (with keep-alive sockets) in the pool for good."""

from __future__ import annotations

import threading

import ccxt
import requests

from exchange.ccxt.instances import InstancePool


class CountingSession(requests.Session):
    closed: list[int] = []

    def close(self) -> None:
        CountingSession.closed.append(id(self))
        super().close()


def make() -> ccxt.Exchange:
    inst = ccxt.bybit()
    inst.session = CountingSession()
    return inst


def test_instances_of_ended_threads_are_dropped_and_their_sessions_closed():
    CountingSession.closed.clear()
    pool = InstancePool(make, bucket=None, credentials=None, sandbox=False, demo=False,
                        timeout_ms=5000)
    made: list[ccxt.Exchange] = []

    def one_incarnation() -> None:
        inst = pool.get()
        assert pool.get() is inst  # one instance per thread while it lives
        made.append(inst)

    for _ in range(40):
        t = threading.Thread(target=one_incarnation)
        t.start()
        t.join()
    survivor = threading.Thread(target=one_incarnation)
    survivor.start()
    survivor.join()
    # the 41st thread's get() dropped the 40 ended ones (and its own ended with it)
    assert pool.instance_count() == 1
    assert sorted(CountingSession.closed) == sorted(id(i.session) for i in made[:40])
    pool.close_all()
    assert pool.instance_count() == 0 and len(CountingSession.closed) == 41


def test_a_live_threads_instance_is_kept():
    pool = InstancePool(make, bucket=None, credentials=None, sandbox=False, demo=False,
                        timeout_ms=5000)
    mine = pool.get()
    done = threading.Event()

    def other() -> None:
        pool.get()
        done.set()

    t = threading.Thread(target=other)
    t.start()
    t.join()
    assert done.is_set() and pool.get() is mine
    pool.close_all()
