"""Rule 4 with an alert in flight: Ctrl-C in a terminal sends SIGINT to every process of the
foreground process group, and the alert_command's process was one of them (found by review):
an alert being delivered at that moment (an escalation, the kill switch) died half-way, while
the bot itself stopped gracefully. The alert command now runs in its own session and finishes.

A real `python bot.py run` in its own process group, an alert_command script that takes a
second (a status snapshot that cannot be written raises one at start), and SIGINT to the
whole group as a terminal sends it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from tests.e2e.bot_process import ROOT, write_config
from tests.support.waiting import wait_until

pytestmark = pytest.mark.slow


def test_ctrl_c_lets_an_alert_in_flight_finish(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "status.json").mkdir()  # the first snapshot fails: one status_write_failed alert
    trace = tmp_path / "alert_trace"
    script = tmp_path / "alert.sh"
    script.write_text(f"#!/bin/sh\necho started >> {trace}\nsleep 1\necho done >> {trace}\n")
    os.chmod(script, 0o700)
    config = write_config(tmp_path / "config.toml", ["BTC/USDT:USDT"],
                          bot={"status_interval_s": 0.2}, dashboard={"enabled": False},
                          supervision={"alert_command": str(script)},
                          logging={"console": False})
    proc = subprocess.Popen([sys.executable, str(ROOT / "bot.py"), "run", "--config",
                             str(config), "--data-dir", str(data)], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)  # its own group, as a terminal's job
    try:
        wait_until(lambda: trace.exists() and "started" in trace.read_text(), timeout=60,
                   message="the alert command started")
        os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C: the whole foreground group
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err[-2000:]
    assert trace.read_text().split() == ["started", "done"]
    log = (data / "logs" / "bot.log").read_text()
    assert "alert command" not in log, log[-2000:]
    assert log.rstrip().endswith("bot stopped")
