"""A worker frozen as a whole (SIGSTOP) that the parent judges hung gets SIGTERM, then SIGCONT.
Review finding: the resumed worker's supervisor saw every actor's heartbeat overdue (the whole
process had been frozen, not the actors) and logged `restarting from storage (restart #1)`
after `stopping: no new entries`. A stopping process restarts nothing, and a process frozen as
a whole does not judge its actors by the frozen time."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from tests.e2e.bot_process import start_bot, wait_status
from tests.e2e.test_workers import all_running, write_accounts_config
from tests.e2e.test_workers_hung import kill_leftover
from tests.support.waiting import wait_until

pytestmark = pytest.mark.slow


def test_a_frozen_worker_stopped_as_hung_restarts_no_actor(tmp_path: Path) -> None:
    # actors are judged hung after 2 s, the worker after its 5 s without a beat (the default)
    config = write_accounts_config(
        tmp_path / "bot.toml",
        "backoff_initial_s = 0.05\nheartbeat_interval_s = 0.5\nheartbeat_timeout_s = 2.0\n")
    data = tmp_path / "data"
    proc = start_bot(config, data, "--workers", "2", "--duration", "300")
    hung = 0
    try:
        s = wait_status(config, data, all_running, timeout=90, message="both workers running")
        hung = s["bot"]["workers"][0]["pid"]
        os.kill(hung, signal.SIGSTOP)
        wait_status(config, data, lambda s: s["bot"]["workers"][0]["pid"] != hung
                    and all_running(s), timeout=120, message="worker 1 stopped and restarted")
        wait_until(lambda: not Path(f"/proc/{hung}").exists(), timeout=10,
                   message="the frozen worker gone")
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=90)
    finally:
        if proc.poll() is None:
            proc.kill()
        if hung:
            kill_leftover(hung)
    assert proc.returncode == 0, err[-2000:]
    logs = "".join(p.read_text(errors="replace") for p in sorted((data / "logs").rglob("*.log")))
    assert "ALERT worker_hung" in logs
    bad = [line for line in logs.splitlines()
           if "restarting from storage" in line or "no heartbeat reply" in line]
    assert bad == [], "\n".join(bad[:10])
