"""kill -9 at chosen moments, at least 20 times, with invariants checked after every restart.

CHAOS_KILLS=100 python -m pytest tests/e2e/test_chaos.py -s   for a longer run."""

from __future__ import annotations

import os

import pytest

from tests.e2e.chaos import Chaos

pytestmark = pytest.mark.slow


def test_kill_9_at_any_moment_loses_and_duplicates_nothing(tmp_path):
    kills = max(20, int(os.environ.get("CHAOS_KILLS", "20")))
    report = Chaos(tmp_path, seed=int(os.environ.get("CHAOS_SEED", "7"))).run(kills)
    print(report.summary())
    for v in report.violations[:20]:
        print("VIOLATION:", v)
    assert report.kills == kills
    assert report.checks > kills * 4
    assert report.violations == [], report.violations[:10]
