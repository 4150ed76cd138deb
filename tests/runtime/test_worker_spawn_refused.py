"""`run --workers N`: a worker the system refuses to start (fork: out of memory or at the
process limit, no file descriptor for its heartbeat pipe) is a failure of that worker, not of
the parent. Its restart after a crash raised the OSError out of the supervision loop, and the
parent stopped every other worker and exited 2 (found by review): one worker's trouble stopped
every account. The parent's `popen` is injected; the started process is a real one."""

from __future__ import annotations

import errno
import subprocess
import sys
from pathlib import Path
from typing import Any

from config.loader import load_settings
from runtime.workers import WorkerParent
from runtime.workers_status import Worker
from tests.e2e.test_workers import write_accounts_config


class RefusedThenStarted:
    """Refuses the first `refusals` starts as a fork refused for want of memory, then starts a
    real process that stands in for the worker (not the bot: nothing trades here)."""

    def __init__(self, refusals: int) -> None:
        self.refusals = refusals
        self.started: list[subprocess.Popen[bytes]] = []

    def __call__(self, args: list[str], **kwargs: Any) -> subprocess.Popen[bytes]:
        if self.refusals > 0:
            self.refusals -= 1
            raise OSError(errno.ENOMEM, "Cannot allocate memory")
        proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"],
                                pass_fds=kwargs.get("pass_fds", ()))
        self.started.append(proc)
        return proc


def parent(tmp_path: Path, popen: RefusedThenStarted, supervision: str) -> WorkerParent:
    config = write_accounts_config(tmp_path / "bot.toml", supervision)
    settings = load_settings(config)
    p = WorkerParent(settings, tmp_path / "data", workers=2, config=config, popen=popen)
    p.workers = [Worker(index=1, accounts=("alpha", "gamma"))]
    return p


def test_a_refused_restart_is_tried_again_after_the_backoff(tmp_path: Path) -> None:
    popen = RefusedThenStarted(refusals=1)
    p = parent(tmp_path, popen, "backoff_initial_s = 0.5\nmax_restarts = 3")
    [worker] = p.workers
    worker.restart_at = 10.0  # it died; its restart is due
    try:
        p._check(worker, 10.0)  # the fork is refused
        assert p.failure is None and worker.proc is None
        assert worker.restart_at == 10.5  # the backoff, as after an exit
        p._check(worker, 10.5)
        assert popen.started and worker.proc is popen.started[0] and worker.alive()
        assert worker.restart_at is None
    finally:
        worker.close_beats()
        for proc in popen.started:
            proc.kill()
            proc.wait()


def test_refused_past_the_intensity_escalates_like_exits(tmp_path: Path) -> None:
    popen = RefusedThenStarted(refusals=10)
    p = parent(tmp_path, popen, "backoff_initial_s = 0.5\nmax_restarts = 2\nrestart_period_s = 60")
    [worker] = p.workers
    worker.restart_at = now = 10.0
    while p.failure is None and now < 100:
        assert worker.restart_at is not None
        now = worker.restart_at
        p._check(worker, now)
    assert p.failure is not None and "could not be started" in p.failure, p.failure
    assert "worker 1 (accounts alpha,gamma) failed more than 2 times" in p.failure
