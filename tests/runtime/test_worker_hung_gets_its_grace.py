"""`run --workers N`: a worker found hung is told to stop (SIGTERM) and SIGKILLed only once
HUNG_STOP_GRACE_S (10 s) has passed (README Worker processes: "SIGTERM, then SIGCONT for a
stopped one, SIGKILL after 10 s"), so one that can still stop gracefully commits what is
queued and writes its final lines. Found by mutation audit: the grace set to nothing (SIGKILL
on the parent's next 0.1 s round) failed no test, the runtime tests nor the e2e hung/frozen
worker tests. The parent's `popen` is injected; the worker is a real process that ignores
SIGTERM (a hung one), its clocks given by the test."""

from __future__ import annotations

from pathlib import Path

from tests.runtime.worker_rig import ScriptPopen, one_worker_parent
from tests.support.waiting import wait_until


def test_a_hung_worker_is_killed_only_after_its_grace(tmp_path: Path) -> None:
    ready = tmp_path / "ready"
    popen = ScriptPopen("import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
                        f"open({str(ready)!r}, 'w').close(); time.sleep(60)")
    p, worker = one_worker_parent(tmp_path, popen)
    try:
        p._start(worker, 0.0)
        wait_until(ready.exists, timeout=30,  # SIGTERM ignored from here on
                   message="the worker process to start")
        worker.beat_at, worker.ready = 0.0, True  # its last heartbeat at 0
        p._check(worker, 100.0)  # silent for 100 s: hung, SIGTERM
        assert worker.stop_at == 110.0 and worker.killed_at is None
        p._check(worker, 109.9)  # within its grace: not killed
        assert worker.killed_at is None and worker.alive()
        p._check(worker, 110.0)  # the grace is over: SIGKILL
        assert worker.killed_at == 110.0
        assert worker.proc is not None and worker.proc.wait(timeout=30) == -9
    finally:
        worker.close_beats()
        for proc in popen.started:
            proc.kill()
            proc.wait()
