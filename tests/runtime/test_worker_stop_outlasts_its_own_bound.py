"""`run --workers N` stopping: the parent gives each worker at least the time the worker gives
itself. Found by review: the parent SIGKILLed a worker 60 s after its SIGTERM, the very bound
the worker gives its accounts' stop (runtime/stop_accounts.py STOP_ALL_TIMEOUT_S) before it
names the actors that did not stop, closes its databases' writers (up to 30 s: what they hold
queued is committed then) and logs its last lines: a worker with one account stuck in an
exchange outage was killed just as it would say which, and its queued writes were lost.

The parent's `popen` is injected: the worker stands in as a real process whose graceful stop
takes longer than the accounts' bound (its SIGTERM taken, it exits 0 a while later). The
accounts' bound is given to the parent as 3 s instead of the production 60 s, so the test does
not sit out a minute; the production bounds' relation is checked on its own."""

from __future__ import annotations

import inspect
import subprocess
import sys
from pathlib import Path
from typing import Any

from config.loader import load_settings
from runtime.stop_accounts import STOP_ALL_TIMEOUT_S
from runtime.workers import STOP_EXTRA_S, WorkerParent
from runtime.workers_status import Worker
from storage.repository import Repository
from tests.e2e.test_workers import write_accounts_config
from tests.support.waiting import wait_until

SLOW_STOP = ("import signal, sys, time\n"
             "signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})\n"
             "open(sys.argv[1], 'w').close()\n"
             "signal.sigwait({signal.SIGTERM})\n"
             "time.sleep(float(sys.argv[2]))  # its accounts' stop, then its writers' close\n"
             "sys.exit(0)\n")


class SlowStop:
    def __init__(self, ready: Path, stop_s: float) -> None:
        self.ready, self.stop_s = ready, stop_s
        self.started: list[subprocess.Popen[bytes]] = []

    def __call__(self, args: list[str], **kwargs: Any) -> subprocess.Popen[bytes]:
        proc = subprocess.Popen([sys.executable, "-c", SLOW_STOP, str(self.ready),
                                 str(self.stop_s)], pass_fds=kwargs.get("pass_fds", ()))
        self.started.append(proc)
        return proc


ACCOUNTS_STOP_S = 3.0


def test_a_worker_stopping_past_its_accounts_bound_is_not_killed(tmp_path: Path) -> None:
    config = write_accounts_config(tmp_path / "bot.toml")
    popen = SlowStop(tmp_path / "ready", ACCOUNTS_STOP_S + 2)
    p = WorkerParent(load_settings(config), tmp_path / "data", workers=1, config=config,
                     popen=popen, accounts_stop_s=ACCOUNTS_STOP_S)
    worker = Worker(index=1, accounts=("alpha", "beta", "gamma"))
    p.workers = [worker]
    try:
        p._start(worker, 0.0)
        wait_until(popen.ready.exists, timeout=30, message="the stand-in taking SIGTERM")
        p._stop_all()
        assert worker.last_exit == 0  # it stopped by itself, not SIGKILLed (-9)
    finally:
        for proc in popen.started:
            proc.kill()
            proc.wait()


def test_the_parent_waits_past_the_accounts_stop_and_the_writers_close() -> None:
    """What the worker gives itself after its accounts' stop: each database writer's close,
    up to 30 s (storage), and its last lines; the parent's extra must cover it."""
    writers_close_s = inspect.signature(Repository.close).parameters["writer_timeout_s"].default
    assert STOP_EXTRA_S > writers_close_s
    bound = inspect.signature(WorkerParent).parameters["accounts_stop_s"].default
    assert bound == STOP_ALL_TIMEOUT_S  # what a worker's runner gives its accounts
