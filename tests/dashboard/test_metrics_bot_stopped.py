"""/metrics of a bot that stopped: no account's figures are current, even while the last status
it wrote is fresh.

Found by review: `bot_account_current` was 1 while the heartbeat was younger than the stale
age (15 s at least, 5 x `bot.status_interval_s`), also after the bot had stopped: a stopping bot
writes its final status last, so for that long a stopped (or crashed, with a recent write) bot
read `bot_up 0` next to every account `current 1`, the figures of a bot that no longer
manages anything passed for live ones (the page and Telegram's /status say BOT NOT RUNNING at
once). The parent's dashboard as built from a real config, a real lock on the data dir, a
status.json written as the bot writes it."""

from __future__ import annotations

import json
import time

from loguru import logger

from config.loader import load_settings
from dashboard.parent import ParentDashboard
from supervision.instance_lock import InstanceLock
from supervision.status import STATUS_FILE
from tests.dashboard.test_metrics_without_status import samples
from tests.e2e.test_workers import ACCOUNTS, write_accounts_config
from tests.e2e.test_workers_status import account_entry


def test_a_stopped_bots_accounts_are_not_current_though_its_last_status_is_fresh(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    settings = load_settings(write_accounts_config(tmp_path / "bot.toml"), data)
    parent = ParentDashboard(settings=settings, data_dir=data, logger=logger)
    status = {"bot": {"pid": 1, "heartbeat_at": time.time(), "accounts": list(ACCOUNTS)},
              "accounts": {name: account_entry("BTC/USDT:USDT", True) for name in ACCOUNTS}}
    (data / STATUS_FILE).write_text(json.dumps(status))
    lock = InstanceLock(data / "bot.lock")
    lock.acquire()
    try:
        got = samples(parent.metrics.render().decode())
        assert got["bot_up"] == {"": 1.0}
        assert got["bot_account_current"] == dict.fromkeys(ACCOUNTS, 1.0)
    finally:
        lock.release()  # the bot stopped; its final status.json stays, seconds old
    try:
        got = samples(parent.metrics.render().decode())
        assert got["bot_up"] == {"": 0.0}
        assert got["bot_account_current"] == dict.fromkeys(ACCOUNTS, 0.0)
        assert got["bot_open_positions"] == dict.fromkeys(ACCOUNTS, 1.0)  # kept, not current
    finally:
        parent.stop()
