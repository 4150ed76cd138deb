"""A second Ctrl-C (or a service manager's repeated SIGTERM) after the clean stop must not turn
exit code 0 into a kill by the signal: Python puts the default handlers back while it
finalizes, and a SIGINT landing there ended the process with 130 after "bot stopped" (found by
review). Real bot in a subprocess, paper exchange, SQLite."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support.configs import NO_DASHBOARD_CONSOLE_LOG, QUIET_PAPER

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_signals_after_bot_stopped_leave_exit_code_zero(tmp_path: Path, signum: int) -> None:
    config = tmp_path / "config.toml"
    config.write_text(QUIET_PAPER.format(data=tmp_path / "data") + NO_DASHBOARD_CONSOLE_LOG
                      + '[symbols]\nlist = ["BTC/USDT:USDT"]\n')
    proc = subprocess.Popen([sys.executable, str(ROOT / "bot.py"), "--config", str(config),
                             "--duration", "1"], cwd=tmp_path, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stderr is not None
        seen = []
        for line in proc.stderr:  # the console copy of the log: wait for the bot's last line
            seen.append(line)
            if "| bot stopped" in line:
                break
        else:
            raise AssertionError("no 'bot stopped' line:\n" + "".join(seen[-20:]))
        deadline = time.monotonic() + 60
        while proc.poll() is None:  # keep signalling through the whole exit
            assert time.monotonic() < deadline, "the bot did not exit"
            proc.send_signal(signum)
            time.sleep(0.0005)
        rest = proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
    assert proc.returncode == 0, rest
    assert "Traceback" not in rest, rest
