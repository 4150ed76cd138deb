"""`run --workers 2` as real processes with a hung worker (SIGSTOP stands in for a wedged
interpreter): `status` shows that worker and its accounts stale with the age of their snapshot
while the other worker stays current; the parent alerts once, stops the hung worker and the
normal restart brings its accounts back."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest

from tests.e2e.bot_process import cli, start_bot, wait_status
from tests.e2e.test_workers import PLAN, all_running, write_accounts_config
from tests.support.waiting import wait_until

pytestmark = pytest.mark.slow


def stale_worker_1(s: dict) -> bool:
    w1, w2 = s["bot"]["workers"]
    return (
        w1["alive"] and w1.get("stale") and not w1["snapshot_current"]
        and (w1.get("snapshot_age_s") or 0) >= 2
        and all(not s["accounts"][n]["worker_alive"]
                and (s["accounts"][n].get("snapshot_age_s") or 0) >= 2 for n in PLAN[1])
        and w2["snapshot_current"] and not w2.get("stale")
        and all(s["accounts"][n]["worker_alive"] for n in PLAN[2])
    )


def kill_leftover(pid: int) -> None:
    """A stopped worker left by a failed test must not outlive it."""
    try:
        if "bot.py" in Path(f"/proc/{pid}/cmdline").read_text():
            os.kill(pid, signal.SIGKILL)
    except OSError:
        pass


def test_a_hung_worker_is_shown_stale_then_stopped_and_restarted(tmp_path):
    config = write_accounts_config(tmp_path / "bot.toml", "backoff_initial_s = 0.2\n")
    data = tmp_path / "data"
    proc = start_bot(config, data, "--workers", "2", "--duration", "300")
    hung = 0
    try:
        s = wait_status(config, data, all_running, timeout=90, message="both workers running")
        hung, other = (w["pid"] for w in s["bot"]["workers"])
        os.kill(hung, signal.SIGSTOP)
        s = wait_status(config, data, stale_worker_1, timeout=30, message="worker 1 stale")
        table = cli(config, data, "status").stdout
        assert "worker 1: stale (no status for " in table and f"pid {hung}" in table
        assert f"worker 2: alive  pid {other}" in table

        s = wait_status(config, data, lambda s: (
            s["bot"]["workers"][0]["pid"] != hung and all_running(s)
        ), timeout=120, message="worker 1 stopped and restarted")
        assert s["bot"]["workers"][0]["restarts"] == 1
        assert s["bot"]["workers"][1]["pid"] == other  # the other worker untouched
        wait_until(lambda: not Path(f"/proc/{hung}").exists(), timeout=10,
                   message="the hung worker gone")
        log = (data / "logs" / "bot.log").read_text()
        assert log.count("ALERT worker_hung") == 1 and f"worker 1 (pid {hung}" in log
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=90)
    finally:
        if proc.poll() is None:
            proc.kill()
        if hung:
            kill_leftover(hung)
    assert proc.returncode == 0, err[-2000:]


def first_worker_pid(data: Path, timeout: float) -> int:
    """Worker 1's pid from the parent's status file, read as soon as the parent writes it (its
    first status follows the spawns at once; the worker is then still importing)."""
    found: list[int] = []

    def seen() -> bool:
        try:
            workers = json.loads((data / "status.json").read_text())["bot"]["workers"]
        except (OSError, ValueError, KeyError):
            return False
        if workers and workers[0].get("pid"):
            found.append(workers[0]["pid"])
        return bool(found)

    wait_until(seen, timeout=timeout, interval=0.005, message="worker 1's pid in status.json")
    return found[0]


def test_a_worker_hung_before_its_first_heartbeat_is_stopped_and_restarted(tmp_path):
    config = write_accounts_config(tmp_path / "bot.toml",
                                   "backoff_initial_s = 0.2\nworker_start_timeout_s = 15\n")
    data = tmp_path / "data"
    proc = start_bot(config, data, "--workers", "2", "--duration", "300")
    hung = 0
    try:
        hung = first_worker_pid(data, timeout=60)
        os.kill(hung, signal.SIGSTOP)  # hung while it starts: it never beats
        s = wait_status(config, data, lambda s: (
            s["bot"]["workers"][0]["pid"] != hung and all_running(s)
        ), timeout=150, message="worker 1 stopped after the start timeout and restarted")
        assert s["bot"]["workers"][0]["restarts"] == 1
        wait_until(lambda: not Path(f"/proc/{hung}").exists(), timeout=10,
                   message="the hung worker gone")
        log = (data / "logs" / "bot.log").read_text()
        assert log.count("ALERT worker_hung") == 1, log[-3000:]
        assert (f"worker 1 (pid {hung}, accounts alpha,gamma) has not finished starting" in log
                and "(supervision.worker_start_timeout_s = 15)" in log), log[-3000:]
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=90)
    finally:
        if proc.poll() is None:
            proc.kill()
        if hung:
            kill_leftover(hung)
    assert proc.returncode == 0, err[-2000:]
