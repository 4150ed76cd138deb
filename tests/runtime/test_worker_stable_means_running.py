"""`run --workers N`: `stable_after_s` counts the time a worker ran (from its first heartbeat),
not the time since its last death. Found by review: a worker that beat, then died 20 s later,
restarted after a 30 s backoff (stable_after_s 40) started its crash-loop count over at every
death, so the `crash_loop` alert never came. The parent's `popen` is injected; each started
process is a real one that sends one heartbeat down its pipe and exits with code 1."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

from config.loader import load_settings
from runtime.workers import WorkerParent
from runtime.workers_status import Worker
from tests.e2e.test_workers import write_accounts_config

BEAT_THEN_DIE = ("import os; from runtime.workers_role import BEAT_FD_ENV; "
                 "os.write(int(os.environ[BEAT_FD_ENV]), b'.'); raise SystemExit(1)")


class BeatThenCrash:
    def __init__(self) -> None:
        self.started: list[subprocess.Popen[bytes]] = []

    def __call__(self, args: list[str], **kwargs: Any) -> subprocess.Popen[bytes]:
        proc = subprocess.Popen([sys.executable, "-c", BEAT_THEN_DIE], cwd=kwargs.get("cwd"),
                                env=kwargs.get("env"), pass_fds=kwargs.get("pass_fds", ()))
        self.started.append(proc)
        return proc


def test_a_worker_never_running_stable_after_s_is_a_crash_loop(tmp_path: Path) -> None:
    config = write_accounts_config(
        tmp_path / "bot.toml", "max_restarts = 2\nrestart_period_s = 10\n"
        "backoff_initial_s = 30\nbackoff_max_s = 30\nstable_after_s = 40")
    popen = BeatThenCrash()
    p = WorkerParent(load_settings(config), tmp_path / "data", workers=1, config=config,
                     popen=popen)
    worker = Worker(index=1, accounts=("alpha", "beta", "gamma"))
    p.workers = [worker]
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
