"""The parent's stop of its workers (`stop_workers`), and a worker process the parent SIGKILLed
(hung, or not stopping) that is never reaped.

A process in uninterruptible sleep (state D: a disk or NFS server that does not answer, a FUSE
file system that hangs) takes SIGKILL only when it wakes, which may be never. Found by review:
the parent waited for its exit for ever: a hung worker's accounts were never traded again, and
a stopping parent never exited (`wait()` without a timeout). Now the parent waits REAP_GRACE_S
after SIGKILL, logs one line, and starts the replacement only once every lock the replacement
takes is free: the account locks are the guard, held by the old process while it lives (its
open files are closed only when it exits), and a replacement meeting a held lock would exit 3,
which stops the whole bot."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path
from typing import Any

from loguru import logger

from runtime.bot_locks import account_lock_path, shared_files
from runtime.workers_role import ProcessRole
from runtime.workers_status import Worker
from supervision.instance_lock import is_locked

REAP_GRACE_S = 10.0
"""How long a SIGKILLed worker gets to be reaped before the parent stops waiting for it."""


def worker_locks(settings: Any, data_dir: Path, accounts: tuple[str, ...]) -> list[Path]:
    """The lock files a worker of `accounts` takes (runtime/bot_locks.py)."""
    role = ProcessRole(worker=0, accounts=accounts)
    return ([account_lock_path(data_dir, a) for a in accounts]
            + shared_files(settings, data_dir, role))


def stop_hung(worker: Worker, now: float, grace_s: float, settings: Any, data_dir: Path) -> bool:
    """A hung worker told to stop (SIGTERM, `worker.stop_at` the end of its `grace_s`): SIGKILL
    once the grace ended; True once the process, killed yet never reaped, may be replaced."""
    assert worker.proc is not None and worker.stop_at is not None
    if worker.killed_at is not None:
        return replaceable(worker, now, worker_locks(settings, data_dir, worker.accounts))
    if now >= worker.stop_at:
        logger.error("worker {} did not stop within {:g} s of SIGTERM; killing it",
                     worker.index, grace_s)
        worker.proc.kill()
        worker.killed_at = now
    return False


def replaceable(worker: Worker, now: float, locks: list[Path]) -> bool:
    """Whether a worker SIGKILLed at `worker.killed_at` (monotonic) and still not reaped may be
    replaced at `now`: REAP_GRACE_S passed and none of `locks` is held. One ERROR line when the
    grace ends; one WARNING line when a replacement that waited for the locks starts."""
    assert worker.killed_at is not None
    waited = now - worker.killed_at
    if waited < REAP_GRACE_S:
        return False
    held = [str(p) for p in locks if is_locked(p)]
    if not worker.unreaped_told:
        worker.unreaped_told = True
        logger.error(
            "worker {} (pid {}) has not exited {:.0f} s after SIGKILL (uninterruptible sleep?); "
            "{}", worker.index, worker.pid, waited,
            f"its replacement starts once it releases {', '.join(held)}" if held
            else "its locks are free: starting its replacement")
    elif not held:
        logger.warning("worker {} (pid {}, never reaped) released its locks: starting its "
                       "replacement", worker.index, worker.pid)
    return not held


def reap(worker: Worker) -> int | None:
    """The exit code of a worker just SIGKILLed at stop, waiting up to REAP_GRACE_S; None (and
    one ERROR line) for one that is not reaped by then: the parent stops without it."""
    assert worker.proc is not None
    try:
        return worker.proc.wait(timeout=REAP_GRACE_S)
    except subprocess.TimeoutExpired:
        logger.error("worker {} (pid {}) has not exited {:g} s after SIGKILL (uninterruptible "
                     "sleep?); stopping without it: its accounts stay locked until it exits",
                     worker.index, worker.pid, REAP_GRACE_S)
        return None


def stop_workers(workers: list[Worker], timeout_s: float) -> None:
    """The parent's stop: SIGTERM to every live worker and `timeout_s` for each to stop
    gracefully, then SIGKILL and `reap`. A worker already found hung keeps the grace it was
    given (`stop_at`), and one already SIGKILLed is only reaped (found by review: both were sent
    SIGTERM again and waited for as a graceful stop, so a worker never reaped held the parent's
    stop for `timeout_s` + REAP_GRACE_S, not the REAP_GRACE_S the README gives it)."""
    alive = [w for w in workers if w.alive()]
    for worker in alive:
        assert worker.proc is not None
        if worker.killed_at is None:
            worker.proc.send_signal(signal.SIGTERM)
            worker.proc.send_signal(signal.SIGCONT)  # a stopped worker too
    deadline = time.monotonic() + timeout_s
    for worker in alive:
        assert worker.proc is not None
        until = deadline if worker.stop_at is None else min(deadline, worker.stop_at)
        code: int | None = None
        if worker.killed_at is None:
            try:
                code = worker.proc.wait(timeout=max(until - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                logger.error("worker {} did not stop {}; killing it (its stops stay on the "
                             "exchange, the next start reconciles)", worker.index,
                             f"within {timeout_s:g} s" if worker.stop_at is None
                             else "after it hung")
                worker.proc.kill()
        if code is None:
            code = reap(worker)  # None: never reaped (one line)
        worker.last_exit = code
        if code is not None:
            logger.info("worker {} stopped (exit code {})", worker.index, code)
    for worker in workers:
        worker.close_beats()
