"""Issue 16 items 11 and 16 as users run the bot (a real subprocess): an unwritable status
snapshot does not end the bot (one line naming the file, one alert, trading goes on), the
alert command gets the alert on stdin and in $BOT_ALERT, and every file the bot leaves in its
data dir is private (0700 folders, 0600 files), also ones an older version left readable."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import stat
from contextlib import closing
from pathlib import Path

import pytest

from tests.e2e.bot_process import start_bot, write_config
from tests.support.waiting import wait_until

SYMBOLS = ["BTC/USDT:USDT", "ETH/USDT:USDT", "SOL/USDT:USDT"]
pytestmark = pytest.mark.slow


def opened_positions(db_path: Path) -> int:
    """PositionOpened rows so far; 0 before the bot created its database and schema (never
    created here: this process must not make the file, with its own mode, before the bot)."""
    if not db_path.exists():
        return 0
    try:
        with closing(sqlite3.connect(db_path, timeout=10)) as db:
            row = db.execute("SELECT count(*) FROM events WHERE type = 'PositionOpened'")
            return int(row.fetchone()[0])
    except sqlite3.OperationalError:  # the schema not there yet
        return 0


def test_status_write_fault_degrades_and_files_are_private(tmp_path):
    data = tmp_path / "data"
    (data / "logs").mkdir(parents=True)
    os.chmod(data, 0o755)
    old_log = data / "logs" / "old.log"
    old_log.write_text("from an older version\n")
    os.chmod(old_log, 0o644)
    (data / "status.json").mkdir()  # the snapshot cannot replace a directory
    stdin_file, env_file = tmp_path / "alert_stdin", tmp_path / "alert_env"
    whole_env = tmp_path / "alert_whole_env"
    command = (f"sh -c 'cat >> {stdin_file}; echo >> {stdin_file}; "
               f"printf \"%s\\n\" \"$BOT_ALERT\" >> {env_file}; env >> {whole_env}'")
    config = write_config(
        tmp_path / "config.toml", SYMBOLS, bot={"status_interval_s": 0.2},
        exchange={"poll_interval_s": 0.1},
        strategy={"window": 10, "entry_z": 1.0, "exit_z": 0.2, "min_volatility_pct": 0},
        supervision={"alert_command": command},
        paper={"latency_ms": 1, "step_ms": 100, "speed": 600.0}, logging={"console": False})
    secrets = {"BOT_API_KEY": "k" * 18, "BOT_API_SECRET": "s" * 36,
               "BOT_SIGNAL_TOKEN": "t" * 24, "BOT_TELEGRAM_TOKEN": "1:" + "g" * 30}
    env = {**os.environ, **secrets, "ALERT_SCRIPT_SETTING": "kept"}
    # stopped once a position opened after the fault, not after a fixed --duration: the run
    # loop's clock starts while the actors may still be starting, and 8 s for the first entry
    # on a loaded machine could end the run before any
    proc = start_bot(config, data, env=env)
    try:
        wait_until(lambda: proc.poll() is not None or opened_positions(data / "bot.sqlite") > 0,
                   timeout=90, interval=0.2, message="a position opened after the fault")
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=90)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err[-2000:]
    log = (data / "logs" / "bot.log").read_text()
    faults = [line for line in log.splitlines() if "| status snapshot" in line]
    assert sum("ALERT status_write_failed" in line for line in log.splitlines()) == 1
    assert len(faults) == 1, faults
    assert str(data / "status.json") in faults[0] and "(Is a directory)" in faults[0]
    assert "Traceback" not in log and log.rstrip().endswith("bot stopped")
    assert opened_positions(data / "bot.sqlite") > 0  # trading went on after the fault

    stdin_alerts = [json.loads(x) for x in stdin_file.read_text().splitlines() if x.strip()]
    env_alerts = [json.loads(x) for x in env_file.read_text().splitlines() if x.strip()]
    assert [a["kind"] for a in stdin_alerts] == ["status_write_failed"]
    assert stdin_alerts == env_alerts and stdin_alerts[0]["file"] == str(data / "status.json")
    # the alert command gets the environment without the variables the config names as secrets
    seen = whole_env.read_text()
    assert "ALERT_SCRIPT_SETTING=kept" in seen and "BOT_ALERT=" in seen
    for name, value in secrets.items():
        assert f"{name}=" not in seen and value not in seen, name

    assert stat.S_IMODE(os.stat(data).st_mode) == 0o700
    for root, dirs, files in os.walk(data):
        for name in dirs:
            path = os.path.join(root, name)
            if name != "status.json":
                assert stat.S_IMODE(os.stat(path).st_mode) == 0o700, path
        for name in files:
            path = os.path.join(root, name)
            assert stat.S_IMODE(os.stat(path).st_mode) == 0o600, path
