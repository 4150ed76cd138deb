"""The parent killed with `kill -9` while one worker is stopped (SIGSTOP): the running worker
notices and stops; the stopped one cannot, and keeps its account's lock. A new `run --workers 2`
is refused (exit 1) with a line naming the PID AND saying that process is stopped and keeps the
lock until continued (found by review: the line named only a PID, and README's "start again
once the old workers are gone" never comes true for a stopped one). Continued, the orphan sees
its parent gone, stops gracefully without trading on, and the next start runs (real processes,
real SIGSTOP/SIGKILL/SIGCONT)."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from tests.e2e.bot_process import start_bot, wait_status
from tests.e2e.test_workers import all_running, write_accounts_config
from tests.support.waiting import wait_until

pytestmark = pytest.mark.slow


def gone(pid: int) -> bool:
    return not Path(f"/proc/{pid}").exists()


def test_a_stopped_orphan_worker_is_named_as_stopped_and_once_continued_it_stops(tmp_path):
    config = write_accounts_config(tmp_path / "bot.toml")
    data = tmp_path / "data"
    proc = start_bot(config, data, "--workers", "2", "--duration", "300")
    stopped = None
    try:
        s = wait_status(config, data, all_running, timeout=90, message="both workers running")
        running, stopped = (w["pid"] for w in s["bot"]["workers"])
        os.kill(stopped, signal.SIGSTOP)
        proc.kill()
        proc.wait(timeout=30)  # not communicate: the stopped worker holds the output pipes
        wait_until(lambda: gone(running), timeout=30, message="the running orphan stopped")

        again = start_bot(config, data, "--workers", "2", "--duration", "300")
        _, err = again.communicate(timeout=90)
        assert again.returncode == 1, err
        refusal = next(line for line in err.splitlines() if "account beta" in line)
        assert f"PID {stopped} holds {data / 'locks' / 'beta.lock'}" in refusal, refusal
        assert (f"that process is stopped (SIGSTOP, Ctrl-Z) and keeps the lock until it is "
                f"continued (kill -CONT {stopped}) and exits") in refusal, refusal

        os.kill(stopped, signal.SIGCONT)
        wait_until(lambda: gone(stopped), timeout=30, message="the continued orphan stopped")
        log = (data / "logs" / "worker-2.log").read_text()
        assert f"parent process {proc.pid} is gone; worker 2 stops" in log
        assert "bot stopped" in log.splitlines()[-1]

        third = start_bot(config, data, "--workers", "2", "--duration", "300")
        try:
            wait_status(config, data, lambda s: all_running(s) and s["bot"]["pid"] == third.pid,
                        timeout=90, message="the next start running both workers")
            third.send_signal(signal.SIGTERM)
            _, err = third.communicate(timeout=90)
        finally:
            if third.poll() is None:
                third.kill()
        assert third.returncode == 0, err[-2000:]
    finally:
        if proc.poll() is None:
            proc.kill()
        if stopped is not None and not gone(stopped):
            os.kill(stopped, signal.SIGKILL)
