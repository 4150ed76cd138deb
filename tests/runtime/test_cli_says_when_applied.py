"""`bot.py signal` / `resume` tell when the running bot applies the row: within its run loop's
round, `bot.status_interval_s` (found by review: "within a second" whatever was configured; at
30 s a person who saw nothing happen in a second sent the signal again, a second row). The
running bot is a real held `bot.lock` (flock) in this process; the CLI runs in-process."""

from __future__ import annotations

from pathlib import Path

import bot
from runtime import cli
from supervision.instance_lock import InstanceLock

BTC = "BTC/USDT:USDT"


def test_the_cli_names_the_configured_round(tmp_path: Path, capsys) -> None:  # noqa: ANN001
    config = tmp_path / "config.toml"
    config.write_text(f'[bot]\nstatus_interval_s = 30\n[symbols]\nlist = ["{BTC}"]\n')
    data = tmp_path / "data"
    data.mkdir()
    lock = InstanceLock(data / "bot.lock")
    lock.acquire()  # the running bot
    try:
        code = cli.dispatch(bot.parser().parse_args(["signal", BTC, "exit", "--config",
                                                     str(config)]))
    finally:
        lock.release()
    out = capsys.readouterr().out
    assert code == 0, out
    assert "the running bot applies it within 30 s (bot.status_interval_s)" in out, out
