"""kill -9 of the LIVE bot at chosen moments against each venue's emulator (HTTP and streams),
with the venue's truth checked after every restart (tests/e2e/live_chaos.py). CI runs
`CI_KILLS` kills per venue; every moment of the venue's list must be reached, proven from the
dead bot's files.

LIVE_CHAOS_KILLS=30 python -m pytest tests/e2e/test_live_chaos.py -s   for a longer run."""

from __future__ import annotations

import os

import pytest

from tests.e2e.chaos_grid import GRID_MOMENTS
from tests.e2e.live_chaos import LIVE_MOMENTS, LiveChaos
from tests.e2e.live_chaos_grid import LiveGridChaos

pytestmark = pytest.mark.slow
CI_KILLS = 10


@pytest.mark.parametrize("venue_id", ["bybit", "binanceusdm"])
def test_kill_9_of_the_live_bot_loses_and_duplicates_nothing(tmp_path, venue_id):
    moments = LIVE_MOMENTS[venue_id]
    kills = max(len(moments), int(os.environ.get("LIVE_CHAOS_KILLS", CI_KILLS)))
    report = LiveChaos(tmp_path, seed=int(os.environ.get("CHAOS_SEED", "7")),
                       venue_id=venue_id).run(kills)
    report.show()
    assert report.kills == kills
    assert report.violations == [], report.violations[:10]
    assert set(report.targets) == set(moments), dict(report.targets)
    assert report.unreached() == [], (report.unreached(), report.misses)


CI_GRID_KILLS = 3


def test_kill_9_of_the_live_hedge_grid_loses_and_duplicates_nothing(tmp_path):
    """The hedge grid live against the Bybit emulator in hedge mode (tests/e2e/live_chaos_grid.py).
    CI: CI_GRID_KILLS kills (a live grid restart reconciles in ~7 s, every grid moment would
    take ~2 minutes), every check after each; LIVE_CHAOS_GRID_KILLS=N kills at least once per
    grid moment and then asks that every moment was reached."""
    wanted = int(os.environ.get("LIVE_CHAOS_GRID_KILLS", 0))
    kills = max(len(GRID_MOMENTS), wanted) if wanted else CI_GRID_KILLS
    report = LiveGridChaos(tmp_path, seed=int(os.environ.get("CHAOS_SEED", "7"))).run(kills)
    report.show()
    assert report.kills == kills
    assert report.checks >= kills, report.checks
    assert report.violations == [], report.violations[:10]
    if wanted:
        assert set(report.targets) == set(GRID_MOMENTS), dict(report.targets)
        assert report.unreached() == [], (report.unreached(), report.misses)
