"""What the bot says while it starts goes to its log file, not to stderr alone: the status
writer, made before the log files are set up, said "removed N leftover temp file(s)" (a crash
between the status snapshot's write and its rename leaves one) on stderr with the console
copy off, and the bot log never had it (found by a chaos run that reads the bot's stderr).
`python bot.py run` in a subprocess on a paper config."""

from __future__ import annotations

import subprocess
import sys

from tests.e2e.bot_process import start_bot, write_config


def test_a_start_with_a_leftover_status_temp_file_says_so_in_the_bot_log(tmp_path):
    config = write_config(tmp_path / "config.toml", ["BTC/USDT:USDT"],
                          paper={"latency_ms": 1, "step_ms": 100, "speed": 600.0},
                          logging={"console": False})
    data = tmp_path / "data"
    data.mkdir(mode=0o700)
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    (data / f".status.json.{gone.pid}.1.2.tmp").write_text("{")
    proc = start_bot(config, data, "--duration", "2")
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert err == "", err  # the console copy is off: the bot says nothing on stderr
    log = (data / "logs" / "bot.log").read_text()
    assert "removed 1 leftover temp file(s)" in log
    assert not (data / f".status.json.{gone.pid}.1.2.tmp").exists()
