"""`bot.pace_quiet_wakes` reaches each account's market feed: true (the default) gives every
account of the process the one shared quiet-wake pacer, false sends quiet wakes at once."""

from __future__ import annotations

from pathlib import Path

import pytest
from loguru import logger

from actors.wake_pacer import shared_pacer
from config.loader import load_settings
from runtime.account import AccountRuntime
from runtime.stop_accounts import stop_all

CONFIG = """
[bot]
{bot}
[[accounts]]
name = "a"
symbols.list = ["BTC/USDT:USDT"]

[[accounts]]
name = "b"
symbols.list = ["ETH/USDT:USDT"]
"""


@pytest.mark.parametrize("line", ["", "pace_quiet_wakes = true", "pace_quiet_wakes = false"])
def test_the_key_reaches_every_accounts_feed(tmp_path: Path, line: str):
    path = tmp_path / "config.toml"
    path.write_text(CONFIG.format(bot=line))
    settings = load_settings(path)
    accounts = [AccountRuntime(s, settings.data_dir_path(), logger=logger, tagged=True)
                for s in settings.account_settings()]
    try:
        for account in accounts:
            account.open()
            account.build()
        pacers = [getattr(a.feed, "rest", a.feed).pacer for a in accounts]
        if line.endswith("false"):
            assert pacers == [None, None]
        else:
            assert pacers[0] is pacers[1] is shared_pacer(0.125)
    finally:
        stop_all(accounts, logger)
