"""After the parent gave up on a worker (past `[supervision]` max_restarts) and stopped the bot,
`bot.py status` says so: the worker's line reads GIVEN UP and one line gives the reason the
command line printed, and `status --json` carries it as `bot.failure`. Found by review: the
status read exactly as a clean stop (`bot: stopped`, every worker `down`), so a user arriving
after the fact could not tell the bot had stopped on a crash loop (real parent and worker
processes, real SIGKILL)."""

from __future__ import annotations

import os
import signal

import pytest

from tests.e2e.bot_process import cli, start_bot, status, wait_status
from tests.e2e.test_workers import all_running, write_accounts_config

pytestmark = pytest.mark.slow
REASON = ("worker 2 (accounts beta) died more than 0 times within 120 s (last exit code -9); "
          "stopping every worker")


def test_status_after_the_parent_gave_up_on_a_worker_names_it_and_why(tmp_path):
    config = write_accounts_config(tmp_path / "bot.toml",
                                   "max_restarts = 0\nrestart_period_s = 120.0\n")
    data = tmp_path / "data"
    proc = start_bot(config, data, "--workers", "2", "--duration", "300")
    try:
        s = wait_status(config, data, all_running, timeout=90, message="both workers running")
        assert "failure" not in s["bot"]
        assert not any(w["given_up"] for w in s["bot"]["workers"])
        os.kill(s["bot"]["workers"][1]["pid"], signal.SIGKILL)  # past the intensity at once
        _, err = proc.communicate(timeout=90)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 1
    assert err.strip().splitlines()[-1] == f"bot.py: error: {REASON}"

    final = status(config, data)
    assert final is not None and final["bot"]["running"] is False
    assert final["bot"]["failure"] == REASON
    assert [w["given_up"] for w in final["bot"]["workers"]] == [False, True]
    table = cli(config, data, "status")
    assert table.returncode == 0
    lines = table.stdout.strip().splitlines()
    assert lines[-3].startswith("worker 1: down  pid")
    assert lines[-2].startswith("worker 2: GIVEN UP (the bot stopped for it)  pid")
    assert "last exit -9" in lines[-2]
    assert lines[-1] == f"bot stopped on a worker fault: {REASON}"
