"""`bot.py status` after the bot was killed (SIGKILL, the OOM killer, a power loss) says that
its status is stale: the bot ended without its graceful stop, and the snapshot shown is its
last one while it ran. Found by review: it read exactly as after a graceful stop, `bot:
stopped` and every actor `stopped`, so an operator could not tell a bot that stopped as told
(every actor finished its message, final status written, `bot stopped` logged) from one that
died in the middle of its work.

A graceful stop writes its final snapshot with `running: false`; a killed bot's last one says
`running: true` although nothing holds the lock any more. Real `python bot.py run`
subprocesses, one stopped by `--duration`, one killed with SIGKILL."""

from __future__ import annotations

import json
import signal

import pytest

from tests.e2e.bot_process import cli, start_bot, wait_status, write_config

pytestmark = pytest.mark.slow


def _config(tmp_path):  # noqa: ANN001, ANN202
    return write_config(tmp_path / "config.toml", ["BTC/USDT:USDT"],
                        bot={"status_interval_s": 0.2}, dashboard={"enabled": False},
                        logging={"console": False})


def test_status_of_a_killed_bot_is_stale_not_stopped(tmp_path):
    data, config = tmp_path / "data", _config(tmp_path)
    bot = start_bot(config, data)
    try:
        wait_status(config, data, lambda s: s["bot"]["running"] and all(
            a["state"] == "running" for a in s["actors"]), message="the actor running")
    finally:
        bot.send_signal(signal.SIGKILL)
        bot.communicate(timeout=30)

    r = cli(config, data, "status", "--json")
    assert r.returncode == 0, r.stderr
    dump = json.loads(r.stdout)["bot"]
    assert dump["running"] is False
    assert dump["stale"] is True, dump

    r = cli(config, data, "status")
    assert r.returncode == 0, r.stderr
    first = r.stdout.splitlines()[0]
    assert first.startswith(f"bot: NOT RUNNING, STALE STATUS  pid {bot.pid}"), first
    assert "ended without stopping (killed or crashed)" in r.stdout, r.stdout


def test_status_of_a_bot_stopped_gracefully_is_not_stale(tmp_path):
    data, config = tmp_path / "data", _config(tmp_path)
    bot = start_bot(config, data, "--duration", "2")
    out, err = bot.communicate(timeout=120)
    assert bot.returncode == 0, err

    r = cli(config, data, "status", "--json")
    assert r.returncode == 0, r.stderr
    dump = json.loads(r.stdout)["bot"]
    assert dump["running"] is False and dump["stale"] is False, dump

    r = cli(config, data, "status")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith(f"bot: stopped  pid {bot.pid}"), r.stdout
    assert "STALE" not in r.stdout and "killed" not in r.stdout, r.stdout
