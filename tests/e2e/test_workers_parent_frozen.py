"""`run --workers N` frozen as a whole (Ctrl-Z then `fg`: SIGTSTP/SIGCONT to the terminal's whole
process group; SIGSTOP; `docker pause`) for longer than a worker may stay silent. Found by
review: on resuming, the parent counted the time it had stood still as its workers' silence:
before any worker could beat again it judged every one hung (`worker_hung` alert, SIGTERM) and
restarted them all, a cold start of every account for nothing. Now a supervision round far
later than the last one does not count that gap towards a worker's hang.

Real processes: the parent and its workers are stopped past the parent's hang limit; the parent
is continued first and the workers only once it has written a status again, as a worker whose
resume lags behind its parent's (the order a resume guarantees nothing about)."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import pytest

from runtime.workers import HUNG_MIN_S
from tests.e2e.bot_process import start_bot, status_now, wait_status
from tests.e2e.test_workers import all_running, write_accounts_config
from tests.support.waiting import wait_until

pytestmark = pytest.mark.slow


def test_a_parent_frozen_with_its_workers_judges_no_worker_hung_by_the_frozen_time(
        tmp_path: Path) -> None:
    config = write_accounts_config(tmp_path / "bot.toml")
    data = tmp_path / "data"
    proc = start_bot(config, data, "--workers", "2", "--duration", "300")
    workers: list[int] = []
    try:
        s = wait_status(config, data, all_running, timeout=90, message="both workers running")
        workers = [w["pid"] for w in s["bot"]["workers"]]
        for pid in (proc.pid, *workers):
            os.kill(pid, signal.SIGSTOP)
        threading.Event().wait(HUNG_MIN_S + 5)  # the freeze itself (not a wait for a result)
        resumed = time.time()
        os.kill(proc.pid, signal.SIGCONT)
        wait_until(lambda: (s := status_now(data)) is not None
                   and s["bot"]["heartbeat_at"] > resumed + 1.0, timeout=30,
                   message="the resumed parent writing its status again")
        for pid in workers:
            _continue(pid)  # gone when the parent took it for hung
        s = wait_status(config, data, lambda s: all_running(s) and all(
            w["beat_age_s"] is not None and w["beat_age_s"] < 5 for w in s["bot"]["workers"]),
            timeout=60, message="both workers beating again")
        assert [w["pid"] for w in s["bot"]["workers"]] == workers
        assert [w["restarts"] for w in s["bot"]["workers"]] == [0, 0]
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=90)
    finally:
        for pid in (proc.pid, *workers):
            _continue(pid)
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err[-2000:]
    bot_log = (data / "logs" / "bot.log").read_text()
    assert "worker_hung" not in bot_log
    assert "the parent stood still for" in bot_log


def _continue(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGCONT)
    except ProcessLookupError:
        pass
