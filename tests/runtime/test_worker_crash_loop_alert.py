"""`run --workers N`: a worker that keeps dying, too slowly to escalate (never more than
`max_restarts` deaths within `restart_period_s`) yet never running `stable_after_s` between
them, raises one `crash_loop` alert per loop, as an actor does. Found by review: the parent
took the restart verdict's `crash_loop` and dropped it, so such a worker restarted for ever
with an ERROR line per exit and no alert. The parent's `popen` is injected; each started
process is a real one that exits at once with code 1 (a crash after its start)."""

from __future__ import annotations

from pathlib import Path

from tests.runtime.worker_rig import ScriptPopen, one_worker_parent


def test_a_slow_worker_crash_loop_alerts_once_and_never_escalates(tmp_path: Path) -> None:
    popen = ScriptPopen("raise SystemExit(1)")
    p, worker = one_worker_parent(
        tmp_path, popen, "max_restarts = 2\nrestart_period_s = 10\n"
        "backoff_initial_s = 0.5\nbackoff_max_s = 1\nstable_after_s = 600")
    now = 100.0
    try:
        p._start(worker, now)
        for _ in range(7):  # a death every 20 s: 1 in any 10 s, never 600 s of running
            assert worker.proc is not None
            worker.proc.wait()
            now += 20.0
            p._check(worker, now)  # its exit: the restart is scheduled
            assert p.failure is None and worker.restart_at is not None
            p._check(worker, worker.restart_at)  # restarted
        assert worker.restarts == 7 and p.failure is None
        told = [(a["kind"], a["message"]) for a in p.alerts.sent]
        assert [kind for kind, _ in told] == ["crash_loop"], told
        assert told[0][1].startswith("worker 1 (accounts alpha,beta,gamma) died 3 times "
                                     "without running 600 s in between"), told
        assert "last exit code 1" in told[0][1]
    finally:
        worker.close_beats()
        for proc in popen.started:
            proc.wait()
