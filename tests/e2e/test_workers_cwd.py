"""`run --workers N` started from a folder whose files the config names relative to it: the
workers run where the parent runs, as the one-process bot does. Found by review: the parent
started each worker with the checkout as its working directory, so an
`alert_command = "./notify.sh"` that the parent (and a one-process bot) found in the user's
folder was "not found" in every worker: each exited 2 at its start and the parent stopped the
whole bot (exit 1); the hook of a worker that did start ran in another folder."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.bot_process import ROOT, status_now
from tests.e2e.test_workers import all_running, write_accounts_config
from tests.support.waiting import wait_until

pytestmark = pytest.mark.slow


def test_workers_find_a_relative_alert_command_in_the_folder_the_bot_was_started_from(
        tmp_path: Path) -> None:
    hook = tmp_path / "notify.sh"
    hook.write_text(f"#!/bin/sh\nexec {sys.executable} -c 'import sys; sys.stdin.read()'\n")
    hook.chmod(0o700)
    config = write_accounts_config(tmp_path / "bot.toml", 'alert_command = "./notify.sh"\n')
    data = tmp_path / "data"
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "bot.py"), "run", "--config", str(config), "--data-dir",
         str(data), "--workers", "2", "--duration", "300"],
        cwd=tmp_path, env={**os.environ, "PYTHONUNBUFFERED": "1"},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        def running_or_gone() -> bool:
            if proc.poll() is not None:
                return True
            s = status_now(data)
            return s is not None and all_running(s)

        wait_until(running_or_gone, timeout=90, message="both workers running (or the bot gone)")
        assert proc.poll() is None, proc.communicate()[1][-2000:]
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=90)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err[-2000:]
    assert "not found" not in err
