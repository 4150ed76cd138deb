"""`run --workers N`: a worker SIGKILLed by the parent that is never reaped (a process in
uninterruptible sleep, state D, takes the signal only when it wakes). Found by review: the
parent waited for it for ever: a hung worker killed that way was never replaced (its accounts
were never traded again), and a stopping parent blocked in `wait()` and never exited.

Now the parent waits runtime/workers_reap.py REAP_GRACE_S after SIGKILL, logs one line, and
starts the replacement only once the worker's locks are free (the replacement could not take an
account lock the old process still holds).

A real D state cannot be made here (it needs a hung disk, NFS or FUSE server), so the worker is
a stand-in injected through the parent's `popen`: signals stay pending and it is never reaped,
as the parent sees a process in D state, while a real process underneath holds the worker's
account lock (`flock`) until the test lets it go. The parent's monotonic times are given."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from loguru import logger

from config.loader import load_settings
from runtime.bot_locks import account_lock_path
from runtime.workers import HUNG_STOP_GRACE_S, WorkerParent
from runtime.workers_reap import REAP_GRACE_S
from runtime.workers_status import Worker, merge_status, settle_liveness, worker_lines
from tests.e2e.test_workers import write_accounts_config
from tests.e2e.test_workers_status import account_entry, bot, snapshot, write
from tests.runtime.worker_rig import SLEEPS, ScriptPopen
from tests.support.waiting import wait_until

HOLD = ("import fcntl, os, sys\n"
        "fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT)\n"
        "fcntl.flock(fd, fcntl.LOCK_EX)\n"
        "print('locked', flush=True)\n"
        "sys.stdin.read()\n")


class Unreapable:
    """A worker process in state D as its parent sees it: never reaped, signals pending."""

    def __init__(self, lock: Path) -> None:
        lock.parent.mkdir(parents=True, exist_ok=True)
        self.holder = subprocess.Popen([sys.executable, "-c", HOLD, str(lock)],
                                       stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert self.holder.stdout is not None and self.holder.stdout.readline() == "locked\n"
        self.pid = self.holder.pid
        self.returncode = None
        self.signals: list[int] = []
        self.waits: list[float | None] = []
        """The timeouts the parent waited with (each one runs out: it is never reaped)."""

    def poll(self) -> None:
        return None

    def send_signal(self, sig: int) -> None:
        self.signals.append(sig)

    def kill(self) -> None:
        self.signals.append(signal.SIGKILL)

    def wait(self, timeout: float | None = None) -> int:
        self.waits.append(timeout)
        if timeout is None:
            threading.Event().wait()  # never reaped
        raise subprocess.TimeoutExpired("bot.py worker", timeout or 0)

    def release(self) -> None:
        """The process closed its files (its locks are free), still not reaped."""
        if self.holder.stdin is not None:
            self.holder.stdin.close()
        self.holder.wait()


def _parent(tmp_path: Path, popen: ScriptPopen) -> tuple[WorkerParent, Worker, Unreapable]:
    config = write_accounts_config(tmp_path / "bot.toml", "backoff_initial_s = 0.5")
    data = tmp_path / "data"
    p = WorkerParent(load_settings(config), data, workers=1, config=config, popen=popen)
    worker = Worker(index=1, accounts=("alpha", "gamma"))
    p.workers = [worker]
    stuck = Unreapable(account_lock_path(data, "alpha"))
    worker.proc = stuck  # type: ignore[assignment]
    worker.beat_at, worker.ready = 0.0, True
    return p, worker, stuck


def _lines() -> tuple[list[str], int]:
    lines: list[str] = []
    return lines, logger.add(lambda m: lines.append(f"{m.record['level'].name} "
                                                    f"{m.record['message']}"), level="INFO")


def test_a_killed_worker_never_reaped_is_replaced_once_its_locks_are_free(tmp_path: Path):
    popen = ScriptPopen(SLEEPS)
    p, worker, stuck = _parent(tmp_path, popen)
    lines, sink = _lines()
    try:
        p._check(worker, 100.0)  # no heartbeat for 100 s: hung, SIGTERM
        p._check(worker, 110.0)  # the grace is over: SIGKILL
        assert stuck.signals[-1] == signal.SIGKILL
        killed = 110.0
        for now in (killed + REAP_GRACE_S + 1, killed + REAP_GRACE_S + 30):
            p._check(worker, now)  # not reaped, and it holds alpha's lock: no replacement
            assert worker.proc is stuck and worker.restart_at is None and not popen.started
        told = [line for line in lines if "after SIGKILL" in line]
        assert len(told) == 1 and told[0].startswith(
            f"ERROR worker 1 (pid {stuck.pid}) has not exited 11 s after SIGKILL "
            "(uninterruptible sleep?); its replacement starts once it releases "), told
        assert str(account_lock_path(p.data_dir, "alpha")) in told[0]

        stuck.release()  # its files are closed; it is still not reaped
        now = killed + REAP_GRACE_S + 31
        p._check(worker, now)
        assert p.failure is None and worker.restart_at is not None
        # what happened, not "exited with code None" (it never exited: found by review)
        given_up = [line for line in lines if "restarting in" in line]
        assert len(given_up) == 1 and given_up[0].startswith(
            f"ERROR worker 1 (pid {stuck.pid}, accounts alpha,gamma) was killed and never "
            "reaped; given up on (why: logs/"), given_up
        assert not any("code None" in line for line in lines), lines
        p._check(worker, worker.restart_at)
        assert popen.started and worker.proc is popen.started[0] and worker.restarts == 1
        assert any(line.startswith(f"WARNING worker 1 (pid {stuck.pid}, never reaped) released "
                                   "its locks: starting its replacement") for line in lines)
    finally:
        logger.remove(sink)
        stuck.release()
        worker.close_beats()
        for proc in popen.started:
            proc.kill()
            proc.wait()


def test_a_stopping_parent_does_not_wait_for_ever_on_a_worker_never_reaped(tmp_path: Path):
    p, worker, stuck = _parent(tmp_path, ScriptPopen(SLEEPS))
    lines, sink = _lines()
    stop = threading.Thread(target=p._stop_all, daemon=True)
    try:
        stop.start()
        wait_until(lambda: not stop.is_alive(), timeout=30,
                   message="the parent's stop to end despite a worker never reaped")
        assert stuck.signals == [signal.SIGTERM, signal.SIGCONT, signal.SIGKILL]
        assert worker.last_exit is None
        assert any(line.startswith(f"ERROR worker 1 (pid {stuck.pid}) has not exited "
                                   f"{REAP_GRACE_S:g} s after SIGKILL (uninterruptible sleep?); "
                                   "stopping without it") for line in lines), lines
        assert not any("worker 1 stopped" in line for line in lines)
    finally:
        logger.remove(sink)
        stuck.release()


def test_a_stopping_parent_waits_no_longer_for_a_hung_worker_it_already_killed(tmp_path: Path):
    """Found by review: a hung worker SIGKILLed and never reaped (waiting for its locks before
    its replacement starts) was, once the parent stopped, sent SIGTERM again and waited for as
    long as a graceful stop (STOP_ALL_TIMEOUT_S + STOP_EXTRA_S, over 100 s) and then 10 s more:
    the parent's stop took two minutes instead of at most the 10 s the README gives it. A hung
    worker only told to stop gets the rest of its 10 s grace, not a graceful stop's time
    either."""
    popen = ScriptPopen(SLEEPS)
    p, worker, stuck = _parent(tmp_path, popen)
    try:
        p._check(worker, 100.0)  # hung: SIGTERM
        p._check(worker, 110.0)  # SIGKILL; never reaped, it holds alpha's lock
        stuck.waits.clear()
        p._stop_all()
        assert stuck.waits and max(w or 0.0 for w in stuck.waits) <= REAP_GRACE_S, stuck.waits
        assert signal.SIGTERM not in stuck.signals[stuck.signals.index(signal.SIGKILL):]

        hung = Unreapable(tmp_path / "other.lock")  # hung, told to stop: 5 s of grace left
        worker.proc, worker.killed_at = hung, None  # type: ignore[assignment]
        worker.stop_at = time.monotonic() + HUNG_STOP_GRACE_S / 2
        p._stop_all()
        assert hung.waits and max(w or 0.0 for w in hung.waits) <= REAP_GRACE_S, hung.waits
        assert hung.signals[-1] == signal.SIGKILL
        hung.release()
    finally:
        stuck.release()
        worker.close_beats()


def test_a_worker_the_parent_killed_is_not_shown_alive_while_it_is_not_reaped(tmp_path: Path):
    """Found by review: a worker the parent found hung, told to stop and SIGKILLed, still read
    `alive` in the status, its accounts `worker_alive: true` with their last figures as current,
    for as long as its snapshot had not gone stale, and `alive` after that for as long as it was
    not reaped (its replacement waiting for its locks). The parent knows better: it is hung,
    then killed; the status says so and its accounts are not current."""
    popen = ScriptPopen(SLEEPS)
    p, worker, stuck = _parent(tmp_path, popen)
    write(p.data_dir, 1, snapshot(stuck.pid, {"alpha": account_entry("A", True)}))
    try:
        def shown() -> tuple[str, bool, bool]:
            status = merge_status(p.data_dir, bot([worker]), [worker], 200.0, grouped=True)
            [line] = worker_lines(status)
            return (line.split("  pid")[0], status["bot"]["workers"][0]["alive"],
                    status["accounts"]["alpha"]["worker_alive"])

        assert shown() == ("worker 1: alive", True, True)
        p._check(worker, 100.0)  # no heartbeat for 100 s: hung, SIGTERM
        assert shown() == ("worker 1: HUNG (told to stop)", False, False)
        p._check(worker, 110.0)  # SIGKILL, never reaped
        assert stuck.signals[-1] == signal.SIGKILL
        assert shown() == ("worker 1: KILLED (not exited yet)", False, False)
        status = merge_status(p.data_dir, bot([worker]), [worker], 200.0, grouped=True)
        settle_liveness(status, running=False)  # `bot.py status` once the parent is gone
        assert worker_lines(status)[0].startswith("worker 1: down  pid")
    finally:
        stuck.release()
        worker.close_beats()
