"""Ctrl-C (SIGINT) ends the commands that are not the bot itself: `logs -f` and a backtest
sweep ignored SIGINT and SIGTERM (the bot's graceful-stop handler was installed for every
command), so only SIGKILL ended them (found by review). Real subprocesses, real signals."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from tests.support.waiting import wait_until

ROOT = Path(__file__).resolve().parents[2]


def _as_from_a_terminal() -> None:
    # A shell's background job starts with SIGINT ignored, and Python keeps an ignored SIGINT
    # ignored: the command is started as a terminal starts it, whatever ran this suite.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def started(args: list[str], cwd: Path) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "bot.py", *args], cwd=cwd, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            preexec_fn=_as_from_a_terminal)


def test_ctrl_c_ends_logs_follow(tmp_path: Path) -> None:
    data = tmp_path / "data"
    (data / "logs").mkdir(parents=True)
    (data / "logs" / "bot.log").write_text("one line\n")
    proc = started(["logs", "bot", "-f", "-n", "1", "--data-dir", str(data)], ROOT)
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip().endswith("one line")  # it follows now
        os.kill(proc.pid, signal.SIGINT)
        assert proc.wait(timeout=10) in (0, 130)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_ctrl_c_ends_a_backtest_sweep_with_one_line(tmp_path: Path) -> None:
    values = ",".join(str(1.5 + i / 10) for i in range(24))
    proc = started(["backtest", "--config", "examples/backtest.toml", "--no-charts",
                    "--no-progress", "--out", str(tmp_path / "out"), "--processes", "2",
                    "--sweep", f"strategy.entry_z={values}"], ROOT)
    try:
        reports = tmp_path / "out"
        wait_until(lambda: any(reports.glob("run-*/report.json")),
                   timeout=120, message="the sweep's processes at work")
        os.kill(proc.pid, signal.SIGINT)
        done = len(list(reports.glob("run-*/report.json")))
        assert proc.wait(timeout=60) == 130
        _, err = proc.communicate()
        assert err.strip().splitlines()[-1] == "bot.py: interrupted"  # not exit 0 as if done
        # the runs under way were stopped, not waited for (before: both runs under way and the
        # one handed ahead to a worker ran to their reports, ~10 s after the Ctrl-C); one may
        # have been writing its report at the very moment of the signal
        assert len(list(reports.glob("run-*/report.json"))) <= done + 1
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
