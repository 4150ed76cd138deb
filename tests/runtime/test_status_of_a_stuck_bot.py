"""`bot.py status` of a bot that holds its lock but no longer writes its status (its loop
stuck, its process stopped with SIGSTOP or frozen by a debugger) says the status is stale, in
the JSON too. Found by review: `--json` said `running: true` with every actor `running` and
its last figures, nothing telling a script that they were an hour old (only the table gave the
heartbeat's age); the dashboard says `heartbeat_stale` after the same 5 missed writes.

A real process holds bot.lock (as a bot does) under the PID the snapshot names;
`python bot.py status` runs as a subprocess."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time

from supervision.status import write_status
from tests.e2e.bot_process import ROOT, cli, write_config

HOLD = (
    "import sys\n"
    "from pathlib import Path\n"
    "from supervision.instance_lock import InstanceLock\n"
    "InstanceLock(Path(sys.argv[1])).acquire()\n"
    "print('held', flush=True)\n"
    "sys.stdin.read()\n"
)


def _snapshot(data, pid: int, heartbeat_at: float) -> None:  # noqa: ANN001
    write_status(data, {
        "bot": {"pid": pid, "running": True, "mode": "paper", "version": "abc1234",
                "started_at": heartbeat_at - 60, "heartbeat_at": heartbeat_at},
        "actors": [{"symbol": "BTC/USDT:USDT", "state": "running", "restarts": 0,
                    "mailbox": 0, "close_failures": 0, "last_tick_age_s": 0.2}],
        "escalations": [], "kill_switch": False,
        "health": {"open_positions": 0, "protected_positions": 0, "ts_coverage": 1.0}})


def test_status_of_a_bot_that_stopped_writing_it_is_stale(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    config = write_config(tmp_path / "config.toml", ["BTC/USDT:USDT"],
                          bot={"status_interval_s": 1.0})  # stale after 15 s
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(data / "bot.lock")], cwd=ROOT,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        _snapshot(data, holder.pid, time.time() - 3600)
        r = cli(config, data, "status", "--json")
        assert r.returncode == 0, r.stderr
        bot = json.loads(r.stdout)["bot"]
        assert bot["running"] is True and bot.get("starting") is None, bot
        assert bot["stale"] is True, bot

        r = cli(config, data, "status")
        assert r.returncode == 0, r.stderr
        assert r.stdout.startswith(f"bot: running, STALE STATUS  pid {holder.pid}"), r.stdout
        assert re.search(r"no status written for 360\d s", r.stdout), r.stdout

        _snapshot(data, holder.pid, time.time())  # written again: current
        r = cli(config, data, "status", "--json")
        assert r.returncode == 0, r.stderr
        assert json.loads(r.stdout)["bot"]["stale"] is False
        r = cli(config, data, "status")
        assert r.stdout.startswith(f"bot: running  pid {holder.pid}"), r.stdout
        assert "STALE" not in r.stdout, r.stdout
    finally:
        holder.communicate(input="", timeout=30)


def test_stale_from_five_missed_writes_and_when_the_heartbeat_is_ahead_of_the_clock(tmp_path):
    """The threshold itself (README: stale once the heartbeat is older than the dashboard's
    threshold, 5 missed writes and at least 15 s) and a heartbeat ahead of this host's clock
    (the clock was set back: its age is unknown). Found by the runtime mutation audit: with the
    threshold doubled, or the ahead-of-clock case read as fresh, no test failed (the test above
    uses a heartbeat an hour old). With status_interval_s 1 the threshold is 15 s: 25 s old is
    stale, 5 s old is not, 120 s ahead is stale."""
    data = tmp_path / "data"
    data.mkdir()
    config = write_config(tmp_path / "config.toml", ["BTC/USDT:USDT"],
                          bot={"status_interval_s": 1.0})
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(data / "bot.lock")], cwd=ROOT,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        for offset_s, stale in ((-25.0, True), (-5.0, False), (120.0, True)):
            _snapshot(data, holder.pid, time.time() + offset_s)
            r = cli(config, data, "status", "--json")
            assert r.returncode == 0, r.stderr
            bot = json.loads(r.stdout)["bot"]
            assert bot["running"] is True and bot["stale"] is stale, (offset_s, bot)
    finally:
        holder.communicate(input="", timeout=30)
