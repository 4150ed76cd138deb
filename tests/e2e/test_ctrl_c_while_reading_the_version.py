"""Rule 12 with a Ctrl-C at start: the bot reads its running version from git in a child
process, and a terminal's Ctrl-C (SIGINT to the whole foreground group) killed that git, so the
bot, which then stops gracefully, logged and wrote its version as the package's "0.1.0"
instead of the checkout's commit (found by review). git now runs in its own session.

A real `python bot.py run` in its own process group; `git` on its PATH is a script that says
it started, waits a second and runs the real git."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys

import pytest

from runtime.wiring import checkout_version
from tests.e2e.bot_process import ROOT, write_config
from tests.support.waiting import wait_until

pytestmark = pytest.mark.slow


def test_ctrl_c_while_git_runs_keeps_the_version(tmp_path):
    real_git = shutil.which("git")
    if real_git is None:
        pytest.skip("no git")
    version = checkout_version(ROOT)
    if version == "0.1.0":
        pytest.skip("not a git checkout")
    trace = tmp_path / "git_trace"
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "git").write_text(f"#!/bin/sh\necho started >> {trace}\nsleep 1\n"
                                 f'exec {real_git} "$@"\n')
    os.chmod(bin_dir / "git", 0o700)
    data = tmp_path / "data"
    config = write_config(tmp_path / "config.toml", ["BTC/USDT:USDT"],
                          dashboard={"enabled": False}, logging={"console": False})
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}
    proc = subprocess.Popen([sys.executable, str(ROOT / "bot.py"), "run", "--config",
                             str(config), "--data-dir", str(data)], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        wait_until(lambda: trace.exists(), timeout=60, message="git started")
        os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C: the whole foreground group
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err[-2000:]
    log = (data / "logs" / "bot.log").read_text()
    # the Ctrl-C stops the start at its next step (runtime/shutdown.StartFence): either the
    # start line or the stop-while-starting line names the version (rule 12)
    [starting] = [line for line in log.splitlines()
                  if "| bot starting:" in line or "stop requested while starting" in line]
    assert f"version {version}" in starting, starting
