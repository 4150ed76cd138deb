"""kill -9 the hedge grid at chosen moments, with the grid's invariants checked after every
restart (tests/e2e/chaos_grid.py). CHAOS_KILLS=100 for a longer run."""

from __future__ import annotations

import os

import pytest

from tests.e2e.chaos_grid import GRID_TARGETS, GridChaos

pytestmark = pytest.mark.slow


def test_kill_9_the_hedge_grid_at_any_moment_loses_and_duplicates_nothing(tmp_path):
    kills = max(12, int(os.environ.get("CHAOS_KILLS", "12")))
    report = GridChaos(tmp_path, seed=int(os.environ.get("CHAOS_SEED", "7"))).run(kills)
    print(report.summary())
    for v in report.violations[:20]:
        print("VIOLATION:", v)
    for line in report.evidence + report.misses:
        print(" ", line)
    assert report.kills == kills
    assert report.checks > kills * 4
    assert report.violations == [], report.violations[:10]
    # every moment was chosen and reached, proven from the dead bot's files
    assert set(report.targets) == set(GRID_TARGETS), dict(report.targets)
    assert report.unreached() == [], (report.unreached(), report.misses)
