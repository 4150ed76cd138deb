"""`run --workers N`: `stable_after_s` counts the time a worker ran (from its first heartbeat),
not the time since its last death. Found by review: a worker that beat, then died 20 s later,
restarted after a 30 s backoff (stable_after_s 40) started its crash-loop count over at every
death, so the `crash_loop` alert never came. The parent's `popen` is injected; each started
process is a real one that sends one heartbeat down its pipe and exits with code 1."""

from __future__ import annotations

from pathlib import Path

from tests.runtime.worker_rig import ScriptPopen, one_worker_parent

BEAT_THEN_DIE = ("import os; from runtime.workers_role import BEAT_FD_ENV; "
                 "os.write(int(os.environ[BEAT_FD_ENV]), b'.'); raise SystemExit(1)")


def test_a_worker_never_running_stable_after_s_is_a_crash_loop(tmp_path: Path) -> None:
    popen = ScriptPopen(BEAT_THEN_DIE, worker_env=True)
    p, worker = one_worker_parent(
        tmp_path, popen, "max_restarts = 2\nrestart_period_s = 10\n"
        "backoff_initial_s = 30\nbackoff_max_s = 30\nstable_after_s = 40")
    now = 100.0
    try:
        p._start(worker, now)
        for _ in range(3):  # 20 s of running, 30 s of backoff: 50 s between deaths
            assert worker.proc is not None
            assert worker.proc.wait() == 1
            now += 20.0
            p._check(worker, now)  # its heartbeat, then its exit: the restart is scheduled
            assert worker.ready and p.failure is None and worker.restart_at is not None
            now = worker.restart_at
            p._check(worker, now)  # restarted
        told = [(a["kind"], a["message"]) for a in p.alerts.sent]
        assert [kind for kind, _ in told] == ["crash_loop"], told
        assert "died 3 times without running 40 s in between" in told[0][1]
    finally:
        worker.close_beats()
        for proc in popen.started:
            proc.wait()
