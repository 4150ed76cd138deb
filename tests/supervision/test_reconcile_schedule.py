"""Issue 12 (REST cost): while the venue's private streams are up, the periodic Reconcile goes
only to symbols holding something, at the streamed interval; the moment they are down, to every
symbol at the normal interval. Unit cases on the schedule, then the real supervisor with real
actors on the paper exchange, counting each symbol's position reads."""

from __future__ import annotations

import threading
from collections import Counter
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

from supervision.reconcile_schedule import ReconcileSchedule, holds_anything
from tests.support.harness import Harness
from tests.support.waiting import wait_until
from trading.model import Side, SymbolState

SYMS = ["BTC/USDT:USDT", "ETH/USDT:USDT", "SOL/USDT:USDT"]
BTC, ETH, SOL = SYMS


def published(state: Any, reconciled: bool = True) -> Any:
    return SimpleNamespace(state=state, reconciled=reconciled)


def flat(symbol: str) -> Any:
    return published(SymbolState(symbol=symbol))


class Up:
    def __init__(self) -> None:
        self.up = True

    def __call__(self) -> bool:
        return self.up


def test_holds_anything_reads_position_orders_and_reconciled() -> None:
    assert not holds_anything(flat(BTC))
    assert holds_anything(None)  # nothing published yet: nothing known
    assert holds_anything(published(SymbolState(symbol=BTC), reconciled=False))
    grid = SimpleNamespace(orders=(), long=SimpleNamespace(contracts=Decimal("0.1")),
                           short=SimpleNamespace(contracts=Decimal(0)))
    assert holds_anything(published(grid))
    empty_grid = SimpleNamespace(orders=(), long=SimpleNamespace(contracts=Decimal(0)),
                                 short=SimpleNamespace(contracts=Decimal(0)))
    assert not holds_anything(published(empty_grid))
    assert holds_anything(published(SimpleNamespace(orders=("an order",), position=None)))


def test_streams_up_only_holders_at_the_streamed_interval_then_all_when_down() -> None:
    views = {s: flat(s) for s in SYMS}
    views[BTC] = published(SimpleNamespace(orders=(), position=SimpleNamespace(
        side=Side.LONG, contracts=Decimal("0.01"))))
    up = Up()
    sched = ReconcileSchedule(interval_s=30, streamed_interval_s=300, views=views, streams_ok=up)
    sched.start(0.0)
    assert sched.due(10.0, SYMS) == set()  # between ticks
    assert sched.due(30.0, SYMS) == {BTC}  # first streamed look at the holder
    for t in range(60, 330, 30):  # 300 s later, not before
        assert sched.due(float(t), SYMS) == set(), t
    assert sched.due(330.0, SYMS) == {BTC}
    assert sched.skipped == 2 * 11 + 9  # the flat ones at all 11 ticks, BTC at the 9 between
    up.up = False
    assert sched.due(360.0, SYMS) == set(SYMS)  # streams down: everybody, every tick
    assert sched.due(390.0, SYMS) == set(SYMS)
    up.up = True  # everybody was looked at 390: the next streamed looks are due at 690
    views[ETH] = published(SymbolState(symbol=ETH), reconciled=False)
    for t in range(420, 690, 30):
        assert sched.due(float(t), SYMS) == set(), t
    assert sched.due(690.0, SYMS) == {BTC, ETH}  # ETH's state is not known: it counts


def test_no_streams_every_symbol_every_interval() -> None:
    sched = ReconcileSchedule(interval_s=30, streamed_interval_s=300,
                              views={s: flat(s) for s in SYMS})
    sched.start(0.0)
    assert sched.due(30.0, SYMS) == set(SYMS)
    assert sched.due(60.0, SYMS) == set(SYMS)


class PositionReads:
    """The paper exchange, with each symbol's position reads counted (a reconcile reads the
    position before and after its other reads)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.reads: Counter[str] = Counter()
        self.lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def fetch_positions(self, symbols: list[str] | None = None, params: Any = None) -> Any:
        with self.lock:
            for s in symbols or ["*"]:
                self.reads[s] += 1
        return self.inner.fetch_positions(symbols, params)

    def count(self, symbol: str) -> int:
        with self.lock:
            return self.reads[symbol]


def test_supervisor_skips_flat_symbols_while_streams_are_up(tmp_path) -> None:  # noqa: ANN001
    ports: list[PositionReads] = []

    def wrap(paper: Any) -> PositionReads:
        ports.append(PositionReads(paper))
        return ports[-1]

    h = Harness(tmp_path, SYMS, wrap=wrap)
    reads, up = ports[0], Up()
    h.sup.schedule.interval_s = 0.1
    h.sup.schedule.streamed_interval_s = 0.1
    h.sup.schedule.streams_ok = up
    h.start()
    try:
        h.poll()
        assert h.signal(BTC, Side.LONG)
        wait_until(lambda: h.view(BTC).position is not None and h.view(BTC).protected,
                   message="BTC long and protected")
        # streams up: BTC is reconciled over and over, ETH and SOL never
        eth, sol, btc = reads.count(ETH), reads.count(SOL), reads.count(BTC)
        wait_until(lambda: reads.count(BTC) >= btc + 6, message="BTC reconciled 3 times")
        assert (reads.count(ETH), reads.count(SOL)) == (eth, sol)
        assert h.sup.schedule.skipped > 0
        # streams down: everybody again
        up.up = False
        wait_until(lambda: reads.count(ETH) >= eth + 4 and reads.count(SOL) >= sol + 4,
                   message="flat symbols reconciled again while the streams are down")
    finally:
        h.stop()


def test_live_venue_flat_symbols_are_left_to_the_sweep_also_while_the_streams_are_down() -> None:
    """One by one, 500 flat symbols cost Binance more than the bot's budget each round, and
    their reconciliations outrank the REST price polls that stand in for the streams."""
    views = {s: flat(s) for s in SYMS}
    views[BTC] = published(SimpleNamespace(orders=(), position=SimpleNamespace(
        side=Side.LONG, contracts=Decimal("0.01"))))
    up = Up()
    up.up = False
    sched = ReconcileSchedule(interval_s=30, streamed_interval_s=300, views=views, streams_ok=up,
                              flat_by_sweep=True)
    sched.start(0.0)
    assert sched.due(30.0, SYMS) == {BTC}  # down: the holder every interval, flat ones never
    assert sched.due(60.0, SYMS) == {BTC}
    views[SOL] = published(SymbolState(symbol=SOL), reconciled=False)
    assert sched.due(90.0, SYMS) == {BTC, SOL}  # not reconciled yet: it counts as holding
    assert sched.skipped == 2 + 2 + 1
    no_streams = ReconcileSchedule(interval_s=30, streamed_interval_s=300, views=views,
                                   flat_by_sweep=True)  # live, REST only
    no_streams.start(0.0)
    assert no_streams.due(30.0, SYMS) == {BTC, SOL}
