"""`run --workers N`: a worker restarted after the config file was edited runs the config the
bot was started with, as its other processes do. Found by review: each worker read the config
file again at every start, so after a crash its replacement ran whatever the file held then,
next to workers running the old settings (and the parent's budget split made from those); an
edit in progress, not valid yet, failed every restart (exit 2 after the worker had run: a crash)
until the restart intensity stopped the whole bot. Real processes; one worker is killed after
the file was made unreadable as TOML."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from tests.e2e.bot_process import start_bot, wait_status
from tests.e2e.test_workers import all_running, write_accounts_config

pytestmark = pytest.mark.slow


def test_a_restarted_worker_runs_the_config_the_bot_started_with(tmp_path: Path) -> None:
    config = write_accounts_config(tmp_path / "bot.toml", "backoff_initial_s = 0.2\n")
    data = tmp_path / "data"
    proc = start_bot(config, data, "--workers", "2", "--duration", "300")
    try:
        s = wait_status(config, data, all_running, timeout=90, message="both workers running")
        first = s["bot"]["workers"][0]["pid"]
        config.write_text(config.read_text() + "\n[risk\norder_size_usdt = \n")  # mid-edit
        os.kill(first, signal.SIGKILL)
        s = wait_status(config, data, lambda s: s["bot"]["workers"][0]["pid"] != first
                        and all_running(s) or not s["bot"]["running"], timeout=90,
                        message="worker 1 restarted (or the bot stopped)")
        assert s["bot"]["running"] and s["bot"]["workers"][0]["restarts"] == 1
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=90)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err[-2000:]
    assert "TOML" not in err
