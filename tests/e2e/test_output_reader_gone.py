"""`bot.py status | head -1`: the reader closing the pipe is not an error of the command (found
by review: exit 2, "unexpected BrokenPipeError in status", and a CRITICAL traceback appended
to the running bot's own logs/bot.log by the status process). Real subprocesses; the pipe's
read end is closed before the command starts, so its first write always finds no reader."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.bot_process import ROOT, cli, write_config

pytestmark = pytest.mark.slow


def _closed_pipe_run(*args: str) -> subprocess.CompletedProcess:
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        return subprocess.run([sys.executable, str(ROOT / "bot.py"), *args], cwd=ROOT,
                              stdout=write_end, stderr=subprocess.PIPE, text=True, timeout=60)
    finally:
        os.close(write_end)


@pytest.fixture(scope="module")
def ran(tmp_path_factory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("reader_gone")
    config = write_config(folder / "config.toml", ["BTC/USDT:USDT"],
                          bot={"status_interval_s": 0.2}, paper={"latency_ms": 1},
                          logging={"console": False})
    data = folder / "data"
    result = cli(config, data, "run", "--duration", "2")
    assert result.returncode == 0, result.stderr
    return config, data


@pytest.mark.parametrize("command", [["status"], ["status", "--json"],
                                     ["logs", "BTC/USDT:USDT", "-n", "5"]])
def test_reader_gone_is_quiet_and_leaves_the_bot_log_alone(ran, command):
    config, data = ran
    log = data / "logs" / "bot.log"
    before = log.read_bytes()
    result = _closed_pipe_run(*command, "--config", str(config), "--data-dir", str(data))
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert log.read_bytes() == before  # nothing appended by the reading process


def test_backtest_report_to_a_gone_reader(tmp_path):
    csv = tmp_path / "BTC.csv"
    rows = ["timestamp,open,high,low,close,volume"]
    price = 100.0
    for i in range(300):
        step = 0.4 if (i // 7) % 2 else -0.4
        rows.append(f"{1_700_000_000_000 + i * 60_000},{price},{price + 0.6},{price - 0.6},"
                    f"{price + step},10")
        price += step
    csv.write_text("\n".join(rows) + "\n")
    config = write_config(tmp_path / "config.toml", ["BTC/USDT:USDT"])
    out = tmp_path / "out"
    result = _closed_pipe_run("backtest", "--config", str(config), "--csv",
                              f"BTC/USDT:USDT={csv}", "--out", str(out), "--no-charts",
                              "--no-progress")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert any(out.iterdir())  # the report files were written before the print
