"""A stalled database never stalls supervision. Found by review: the supervisor thread wrote
its own records (a restart count, a quarantine, the kill switch) itself and waited up to the
writer's deadline (60 s) for each; meanwhile no other actor was restarted, pinged or judged
hung. Real supervisor, actors and SQLite; the repository's restart count hangs (a database
that does not answer) through its own class until the test lets it go."""

from __future__ import annotations

import threading

from storage.repository import Repository
from supervision.restart_policy import RestartPolicy
from tests.support.crashing import ActorBug
from tests.support.harness import Harness
from tests.support.waiting import wait_until

BTC, ETH = "BTC/USDT:USDT", "ETH/USDT:USDT"


class CountHangs(Repository):
    release = threading.Event()
    waiting: list[str] = []

    def count_restart(self, symbol: str) -> None:
        self.waiting.append(symbol)
        self.release.wait(30)
        super().count_restart(symbol)


class CrashOnFirstPrice:
    name = "crash-once"
    crashed: set[str] = set()

    def __init__(self, symbol: str) -> None:
        self.symbol = symbol

    def on_price(self, price, volume, now, position):  # noqa: ANN001
        if self.symbol not in self.crashed:
            self.crashed.add(self.symbol)
            raise ActorBug(f"bug on the first price of {self.symbol}")
        return None


def test_restarts_go_on_while_a_restart_count_waits_for_the_database(tmp_path):
    CountHangs.release = threading.Event()
    CountHangs.waiting = []
    CrashOnFirstPrice.crashed = set()
    h = Harness(tmp_path, [BTC, ETH], strategy_for=CrashOnFirstPrice, repository=CountHangs,
                policy=RestartPolicy(max_restarts=5, period_s=60, backoff_initial_s=0.01,
                                     backoff_max_s=0.05, stable_after_s=60)).start()
    try:
        first = {s: h.child(s).ref for s in (BTC, ETH)}
        h.poll()  # the first price: both actors crash
        wait_until(lambda: CountHangs.waiting, message="a restart count waiting on the database")
        wait_until(lambda: all(h.child(s).state.value == "running"
                               and h.child(s).ref is not first[s] for s in (BTC, ETH)),
                   message="both actors restarted while a restart count hung")
        assert not CountHangs.release.is_set()
    finally:
        CountHangs.release.set()
        h.stop()


class QuarantineFailsOnce(Repository):
    failed: list[str] = []

    def quarantine(self, symbol: str, reason: str, *, correlation_id: str) -> None:
        if not self.failed:
            self.failed.append(symbol)
            raise RuntimeError("the database server did not answer within 10s")
        super().quarantine(symbol, reason, correlation_id=correlation_id)


class AlwaysCrash:
    name = "always-crash"

    def __init__(self, symbol: str) -> None:
        pass

    def on_price(self, price, volume, now, position):  # noqa: ANN001
        raise ActorBug("bug on every price")


def test_an_escalation_that_fails_to_store_is_retried_until_stored(tmp_path, lines):
    """Off the supervisor thread, an escalation's records are still never dropped (rule 2):
    a failed write is retried until the quarantine and the escalation are in the database."""
    from storage import queries

    QuarantineFailsOnce.failed = []
    h = Harness(tmp_path, [BTC], strategy_for=AlwaysCrash, repository=QuarantineFailsOnce,
                policy=RestartPolicy(max_restarts=1, period_s=60, backoff_initial_s=0.01,
                                     backoff_max_s=0.05, stable_after_s=60)).start()
    try:
        for _ in range(5):
            if h.child(BTC).state.value == "quarantined":
                break
            restarts = h.child(BTC).restarts
            h.clock.advance(1.0)
            h.poll()
            wait_until(lambda r=restarts: h.child(BTC).restarts > r
                       or h.child(BTC).state.value == "quarantined", message="a crash")
            wait_until(lambda: h.child(BTC).state.value in ("running", "quarantined"),
                       message="running or quarantined")
        assert h.child(BTC).state.value == "quarantined"
        wait_until(lambda: [e["symbol"] for e in h.repo.read(queries.open_escalations)] == [BTC],
                   message="the escalation stored after its write failed once")
        assert QuarantineFailsOnce.failed == [BTC]
        # the record keeper says so right after its commit, which the read above may beat
        wait_until(lambda: any("the escalation stored after 1 failed attempts" in line
                               for line in lines), message="the line saying it was stored")
    finally:
        h.stop()
