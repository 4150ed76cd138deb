"""kill -9 a cluster node 20 times at random moments (3 nodes, 6 accounts, the shared paper
server, real PostgreSQL): every time, its accounts run and trade again on survivors, no client
order id reaches the exchange twice, every position keeps its stop, the ledgers equal the
exchange's fills, and no epoch sent after the next one began. Fast lease timings keep it near
3 minutes; bench/bench_failover.py runs the default timings longer."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cluster.failover_run import FailoverRun, Timings, distribution

pytestmark = pytest.mark.slow
KILLS = 20
FAST = Timings(ttl_s=2.0, margin_s=0.6, timeout_ms=1000)


def test_twenty_kills_fail_over_with_clean_books(pg_url: str, tmp_path: Path) -> None:
    run = FailoverRun(root=tmp_path, pg_url=pg_url, timings=FAST)
    try:
        run.start()
        for k in range(1, KILLS + 1):
            run.takeovers_s.extend(run.kill_one(k))
        run.final_checks()
    finally:
        codes = run.stop()
        print("takeover time (kill -> running on a survivor):", distribution(run.takeovers_s))
    assert len(run.takeovers_s) >= KILLS
    assert codes == [0] * len(codes), f"graceful stop exit codes {codes}"
