"""A quarantined symbol's reconcile-only run starts only once the symbol's quarantine is stored.

Found by a test that failed once in CI under load (tests/runtime/test_emergency_reconcile_only.py
`test_the_close_is_booked_while_the_symbol_stays_quarantined`): the reconcile-only run after a
crash-loop escalation was fenced a few ms after it started, and the emergency close's fill was
never booked. The escalation's quarantine is written by the supervisor's record keeper, on a
thread of its own, and it moves the symbol's incarnation on (storage/repository.py
`quarantine`: it fences the quarantined incarnation). The emergency close ran meanwhile, and
its end started the reconcile-only run, whose claim came first that time ("incarnation 2"; in
every passing run it is 3): the quarantine then moved the incarnation past the run's, and the
run's commit was refused as a replaced incarnation's. The close's fill stayed unbooked (the
position open in the database, its entry slot held, its stop left on the exchange) until a
person's resume or a restart. Now the run waits for the symbol's records to be stored.

Real actors, supervisor, emergency closer, SQLite and paper exchange; the repository (injected
through the harness) holds the quarantine write until the test lets it go, and then holds any
later restore of the symbol until the quarantine is written (the order the CI run had)."""

from __future__ import annotations

import dataclasses
import threading
import time
from typing import Any

import pykka
import pytest
from loguru import logger

from actors.symbol_actor import SymbolActor
from storage import queries
from storage.repository import Repository
from supervision.child import ChildState
from supervision.restart_policy import RestartPolicy
from tests.support.crashing import ActorBug
from tests.support.harness import Harness
from tests.support.waiting import wait_until
from trading.model import Side

BTC = "BTC/USDT:USDT"
WAITS = "reconcile-only run waits for the symbol's quarantine to be stored"


class CrashWhenArmed:
    name = "crash-when-armed"

    def __init__(self) -> None:
        self.armed = False

    def on_price(self, price, volume, now, position):  # noqa: ANN001, ANN201
        if self.armed:
            raise ActorBug("bug on every price")
        return None


class LateQuarantine(Repository):
    """Once `hold` is set: the quarantine write waits for `go`; a claim made before it is
    written sets `early`, and that incarnation's restore waits until it is written."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.hold = threading.Event()
        self.go = threading.Event()
        self.written = threading.Event()
        self.early = threading.Event()

    def quarantine(self, symbol: str, reason: str, *, correlation_id: str) -> None:
        if self.hold.is_set():
            assert self.go.wait(60), "the quarantine write was never let go"
        super().quarantine(symbol, reason, correlation_id=correlation_id)
        self.written.set()

    def claim(self, symbol: str) -> int:
        incarnation = super().claim(symbol)
        if self.hold.is_set() and not self.written.is_set():
            self.early.set()
        return incarnation

    def load(self, symbol: str, *args: Any, **kwargs: Any) -> Any:
        if self.early.is_set():
            deadline = time.monotonic() + 60
            while not self.written.is_set():  # the claim came first: the write lands now
                assert time.monotonic() < deadline, "the quarantine was never written"
                self.written.wait(0.05)
        return super().load(symbol, *args, **kwargs)


@pytest.fixture(autouse=True)
def _stop_actors():
    yield
    pykka.ActorRegistry.stop_all(block=False)


def test_the_run_after_the_close_waits_for_the_quarantine_and_books_the_close(tmp_path):
    strategy = CrashWhenArmed()
    h = Harness(tmp_path, [BTC], repository=LateQuarantine, strategy_for=lambda s: strategy,
                policy=RestartPolicy(max_restarts=0, period_s=60, backoff_initial_s=0.01,
                                     backoff_max_s=0.05, stable_after_s=60))
    sup = h.supervise_with(h.sup, fenced=True)  # as the account's actors: fenced
    repo = h.repo
    assert isinstance(repo, LateQuarantine)
    runs: list[pykka.ActorRef] = []

    def reconcile_only(symbol: str, report: Any, escalated: Any) -> pykka.ActorRef:
        # as runtime/account.py builds it: the account's actor, no strategy, no price slot
        ref = SymbolActor.start(symbol, dataclasses.replace(
            h.deps, report=report, on_escalate=escalated, strategy_for=None, prices=None))
        runs.append(ref)
        return ref

    sup.reconcile_only.start = reconcile_only
    lines: list[str] = []
    sink = logger.add(lambda m: lines.append(m.record["message"]), level="INFO")
    try:
        h.start()
        h.poll()
        assert h.signal(BTC, Side.LONG)
        wait_until(lambda: (v := h.view(BTC)) is not None and v.position is not None
                   and v.protected, message="BTC open and protected")
        repo.hold.set()
        strategy.armed = True
        h.clock.advance(1.0)
        h.poll()  # its next price fails the actor: it escalates at once (max_restarts 0)
        wait_until(lambda: h.child(BTC).state is ChildState.QUARANTINED, message="escalated")
        wait_until(lambda: h.exchange_position(BTC) is None, message="the emergency close filled")
        # the close has ended while the quarantine is not stored: the run claimed (the CI
        # failure's order), or it waits
        wait_until(lambda: repo.early.is_set() or any(WAITS in line for line in lines),
                   message="the run claimed, or said it waits")
        assert sup.records.pending(BTC) > 0  # the quarantine is still held
        repo.go.set()
        wait_until(lambda: len(runs) == 1 and not runs[0].is_alive(), timeout=30,
                   message="the run ended")
        closes = repo.read(queries.events, BTC, "PositionClosed")
        assert closes != [], "the close's fill not booked: " + " | ".join(
            line for line in lines if "incarnation" in line or "reconcile-only" in line)
        assert not repo.early.is_set(), "the run claimed before the quarantine was stored"
        assert any("reconcile-only run done" in line for line in lines)
        [closed] = closes
        assert closed["data"]["reason"] == "emergency_close"
        assert repo.read(queries.open_positions_of, [BTC]).get(BTC, 0) == 0
        assert h.child(BTC).state is ChildState.QUARANTINED
    finally:
        repo.go.set()
        h.stop()
        logger.remove(sink)
