"""The status's `restarts` counts every restart of a symbol's actor, earlier runs' included.

Found by review: the supervisor stored each restart (`actor_state.restarts`) but the status
showed only the restarts of the running process, and the stored count nowhere: a symbol that
crash-looped before the bot was restarted showed `restarts 0`. Real supervisor, actors and
SQLite; the same database opened by a second bot."""

from __future__ import annotations

from storage import queries
from supervision.restart_policy import RestartPolicy
from supervision.status import build_status
from tests.support.crashing import CrashOnFirstPrice
from tests.support.harness import Harness
from tests.support.waiting import wait_until

BTC = "BTC/USDT:USDT"


def test_restarts_of_an_earlier_run_are_shown(tmp_path):
    strategy = CrashOnFirstPrice()
    policy = RestartPolicy(max_restarts=5, period_s=60, backoff_initial_s=0.01,
                           backoff_max_s=0.05, stable_after_s=60)
    h = Harness(tmp_path, [BTC], strategy_for=lambda s: strategy, policy=policy).start()
    try:
        h.poll()
        wait_until(lambda: h.repo.read(queries.restart_counts, [BTC]) == {BTC: 1},
                   message="the restart stored")
    finally:
        h.stop()
    h = Harness(tmp_path, [BTC], policy=policy).start()
    try:
        status = build_status(h.sup, {"pid": 1}, h.clock(), [])
        assert [a["restarts"] for a in status["actors"]] == [1]
    finally:
        h.stop()
