"""kill -9 of the WORKER of `run --workers` at chosen moments (an entry, a first stop, a stop
move, a close, a stop cancel in flight; during its start; at random): the parent restarts it
and nothing is lost or duplicated, every position keeps its stop (tests/e2e/chaos_workers.py).

CHAOS_KILLS=40 python -m pytest tests/e2e/test_chaos_workers.py -s   for a longer run."""

from __future__ import annotations

import os

import pytest

from tests.e2e.chaos_workers import WorkerChaos

pytestmark = pytest.mark.slow
CI_KILLS = 10


def test_kill_9_of_a_worker_at_any_moment_loses_and_duplicates_nothing(tmp_path):
    chaos = WorkerChaos(tmp_path, seed=int(os.environ.get("CHAOS_SEED", "7")))
    kills = max(len(chaos.moments), int(os.environ.get("CHAOS_KILLS", CI_KILLS)))
    report = chaos.run(kills)
    report.show()
    assert report.kills == kills
    assert report.checks > kills * 4
    assert report.violations == [], report.violations[:10]
    assert set(report.targets) == set(chaos.moments), dict(report.targets)
    assert report.unreached() == [], (report.unreached(), report.misses)
    bot_log = (tmp_path / "data" / "logs" / "bot.log").read_text()
    assert bot_log.count("restarting in") >= kills - 1  # the parent restarted each one
