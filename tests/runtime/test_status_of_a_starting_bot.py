"""Rule 12: `bot.py status` while a new bot holds the data dir's lock but has not written its
first snapshot (it is starting: accounts opening, markets loading, actors restoring) tells
that bot's PID, not the previous run's. Found by review: the status read `running` with the
killed run's PID, version and dashboard, and its actors `running` with its positions, so
nobody could tell which process (and which code) held the data dir.

A real `python bot.py run` killed with SIGKILL leaves its snapshot; a real second process
takes bot.lock as a starting bot does first and holds it; `python bot.py status` runs as a
subprocess."""

from __future__ import annotations

import json
import signal
import subprocess
import sys

import pytest

from tests.e2e.bot_process import ROOT, cli, start_bot, wait_status, write_config

pytestmark = pytest.mark.slow

HOLD = (
    "import sys\n"
    "from pathlib import Path\n"
    "from supervision.instance_lock import InstanceLock\n"
    "InstanceLock(Path(sys.argv[1])).acquire()\n"
    "print('held', flush=True)\n"
    "sys.stdin.read()\n"
)


def test_status_names_the_starting_bot_not_the_previous_run(tmp_path):
    data = tmp_path / "data"
    config = write_config(
        tmp_path / "config.toml", ["BTC/USDT:USDT", "ETH/USDT:USDT"],
        bot={"status_interval_s": 0.2}, dashboard={"enabled": False},
        logging={"console": False})
    old = start_bot(config, data)
    try:
        wait_status(config, data, lambda s: s["bot"]["running"] and all(
            a["state"] == "running" for a in s["actors"]), message="all actors running")
    finally:
        old.send_signal(signal.SIGKILL)  # a crash: the snapshot still says running
        old.communicate(timeout=30)
    new = subprocess.Popen([sys.executable, "-c", HOLD, str(data / "bot.lock")], cwd=ROOT,
                           stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert new.stdout is not None and new.stdout.readline() == "held\n"
        r = cli(config, data, "status", "--json")
        assert r.returncode == 0, r.stderr
        bot = json.loads(r.stdout)["bot"]
        assert bot["running"] is True and bot["starting"] is True
        assert bot["pid"] == new.pid, bot
        assert bot["previous_run"]["pid"] == old.pid
        actors = json.loads(r.stdout)["actors"]
        assert [a["state"] for a in actors] == ["stopped", "stopped"], actors
        assert [a["last_state"] for a in actors] == ["running", "running"]

        r = cli(config, data, "status")
        assert r.returncode == 0, r.stderr
        first = r.stdout.splitlines()[0]
        assert first.startswith(f"bot PID {new.pid} is starting"), first
        assert f"previous run (PID {old.pid}" in first, first
    finally:
        new.communicate(input="", timeout=30)


def test_status_of_a_first_start_says_the_bot_is_starting(tmp_path):
    """The same on a data dir's first start, with no snapshot at all: it said "has the bot run
    with this data dir?" while a bot held the lock."""
    data = tmp_path / "data"
    data.mkdir()
    config = write_config(tmp_path / "config.toml", ["BTC/USDT:USDT"])
    new = subprocess.Popen([sys.executable, "-c", HOLD, str(data / "bot.lock")], cwd=ROOT,
                           stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert new.stdout is not None and new.stdout.readline() == "held\n"
        r = cli(config, data, "status")
        assert r.returncode == 2
        assert r.stderr == (f"bot.py: error: no status yet in {data}: the bot (PID {new.pid}) is "
                            "starting and has not written its first one; try again in a "
                            "moment\n"), r.stderr
    finally:
        new.communicate(input="", timeout=30)
