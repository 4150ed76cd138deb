"""INCIDENTS rule 5: no lock is shared between symbols, so a wave of N signals opens N protected
positions in parallel. The exchange port (given to the harness through its constructor) holds
every entry order until all N are in flight at once, or a deadline passes: a lock shared
between symbols (the seeds' one global lock around order placement) lets at most one through
at a time, and the test sees it as a maximum of 1 in flight. Found by the mutation audit: a
module-wide lock around command execution was caught only through a deadlock in an unrelated
restart test. No timing is asserted; the deadline only bounds how long a serial design waits."""

from __future__ import annotations

import threading
from typing import Any

from tests.actors.test_entry_gate import open_symbols, wave
from tests.support.harness import Harness
from tests.support.waiting import wait_until

N = 8
SYMBOLS = [f"P{i:02d}/USDT:USDT" for i in range(N)]
GATHER_S = 5.0


class AllAtOnce:
    """Entry orders wait at the port until N are in flight (or GATHER_S passes)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.cond = threading.Condition()
        self.in_flight = 0
        self.max_in_flight = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def create_order(self, symbol, type_, side, amount, price=None, params=None):  # noqa: ANN001, ANN201
        if (params or {}).get("reduceOnly"):
            return self.inner.create_order(symbol, type_, side, amount, price, params)
        with self.cond:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            self.cond.notify_all()
            self.cond.wait_for(lambda: self.max_in_flight >= N, timeout=GATHER_S)
        try:
            return self.inner.create_order(symbol, type_, side, amount, price, params)
        finally:
            with self.cond:
                self.in_flight -= 1


def test_a_wave_of_entries_reaches_the_exchange_all_at_once_and_each_is_protected(tmp_path):
    box: dict[str, AllAtOnce] = {}

    def wrap(paper: Any) -> AllAtOnce:
        box["port"] = AllAtOnce(paper)
        return box["port"]

    h = Harness(tmp_path, SYMBOLS, wrap=wrap, max_open_positions=N).start()
    try:
        port = box["port"]
        h.poll()
        wave(h, SYMBOLS)
        wait_until(lambda: len(open_symbols(h.paper)) == N, timeout=60, message="all opened")
        assert port.max_in_flight == N  # all N entries were at the exchange at the same time
        wait_until(lambda: all(h.exchange_stops(s) for s in SYMBOLS), timeout=60,
                   message="every position has its stop on the exchange")
    finally:
        h.stop()
