"""`run --workers N`: a dead worker is started again only after the `[supervision]` backoff
(`backoff_initial_s` doubling up to `backoff_max_s`), as the README's Worker processes section
says. Found by mutation audit: the parent's due check (`now >= worker.restart_at`) replaced by
"always" failed no test, the runtime tests nor the e2e worker tests: a worker crashing at each
start was forked again on the parent's next 0.1 s round, a fork storm against a venue and a
database that may be what made it die. The parent's `popen` is injected; each started process
is a real one that exits at once with code 1 (a crash after its start)."""

from __future__ import annotations

from pathlib import Path

from tests.runtime.worker_rig import ScriptPopen, one_worker_parent


def test_a_dead_worker_is_started_again_only_once_its_backoff_has_passed(tmp_path: Path) -> None:
    popen = ScriptPopen("raise SystemExit(1)")
    p, worker = one_worker_parent(
        tmp_path, popen, "max_restarts = 10\nrestart_period_s = 600\n"
        "backoff_initial_s = 2\nbackoff_max_s = 8\nstable_after_s = 600")
    now = 100.0
    try:
        p._start(worker, now)
        for delay in (2.0, 4.0, 8.0, 8.0):  # doubling up to backoff_max_s
            assert worker.proc is not None
            worker.proc.wait()
            now += 1.0
            p._check(worker, now)  # its exit: the restart is scheduled, not done
            assert worker.restart_at == now + delay
            started = len(popen.started)
            p._check(worker, now + delay - 0.1)  # not yet
            assert len(popen.started) == started and not worker.alive()
            now += delay
            p._check(worker, now)  # due: started again
            assert len(popen.started) == started + 1 and worker.restart_at is None
        assert worker.restarts == 4 and p.failure is None
    finally:
        worker.close_beats()
        for proc in popen.started:
            proc.wait()
