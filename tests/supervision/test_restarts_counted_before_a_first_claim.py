"""Restarts of a symbol whose actor never started are stored too.

Found by review: the stored restart count (`actor_state.restarts`, which the status shows
across runs) was an UPDATE of the symbol's row, and the row is made by the actor's first claim.
A symbol whose actor could not even be built (its spawn failed, e.g. its market rules) had no
row: its restarts were counted nowhere, and after the bot restarted the status showed 0 for a
symbol that had restarted again and again. Real supervisor and actors on real SQLite; the
actor starter passed in fails the first two spawns."""

from __future__ import annotations

from supervision.restart_policy import RestartPolicy
from supervision.supervisor import Supervisor
from tests.support.harness import Harness

BTC = "BTC/USDT:USDT"


def supervisor(h: Harness, start_actor) -> Supervisor:  # noqa: ANN001
    return h.supervise_with(h.supervisor(
        start_actor=start_actor, heartbeat_timeout_s=1.0,
        policy=RestartPolicy(max_restarts=5, period_s=60, backoff_initial_s=0.01,
                             backoff_max_s=0.05, stable_after_s=30)))


def test_restarts_of_a_symbol_that_never_started_survive_a_restart(tmp_path):
    h = Harness(tmp_path, [BTC])
    calls: list[str] = []

    def start_actor(symbol: str):  # noqa: ANN202
        calls.append(symbol)
        if len(calls) <= 2:
            raise RuntimeError("no market rules for BTC")
        return h._start(symbol)

    supervisor(h, start_actor)
    h.start()  # waits until running
    assert h.child(BTC).restarts == 2
    h.stop()  # the records are written before the repository closes

    again = Harness(tmp_path, [BTC])
    sup = supervisor(again, again._start)  # not started: it reads the stored counts
    try:
        assert sup.children[BTC].restarts == 2
    finally:
        sup.records.close()
        again.repo.close()
        again.paper.close()
