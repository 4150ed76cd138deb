"""With several accounts, the signal receiver's lines about an account's signals go to that
account's log (logs/<account>/bot.log) tagged with the account, like its feed's and its
supervisor's (found by review: each account's router logged through the bot's untagged logger,
so `bot.py logs bot --account beta` never showed beta's signals, and bot.log's lines about a
signal, delivered or rejected, did not say which account).

Real parts: the account runtime (supervisor, pykka actors, SQLite, the paper exchange), the
real signal HTTP server built as the bot builds it (runtime/runner.py `_signal_receiver`) and
the real log streams."""

from __future__ import annotations

from pathlib import Path

from loguru import logger

from config.loader import load_settings
from observability.log_streams import LogStreams
from runtime.account import AccountRuntime
from runtime.stop_accounts import stop_all
from signals.wiring import SignalsConfig, build_account_signal_services
from tests.signals.support import TOKEN, post
from tests.support.waiting import wait_until

BTC = "BTC/USDT:USDT"

CONFIG = f"""
[bot]
mode = "paper"
data_dir = "data"
account = "alpha"
[exchange]
id = "paper"
poll_interval_s = 0.05
[symbols]
list = ["{BTC}"]
[paper]
latency_ms = 0
[supervision]
heartbeat_interval_s = 0.05
heartbeat_timeout_s = 10
reconcile_interval_s = 3600
[logging]
console = false
"""


def test_an_accounts_signal_lines_are_in_its_own_log(tmp_path: Path):
    path = tmp_path / "config.toml"
    path.write_text(CONFIG)
    settings = load_settings(path)
    logs = tmp_path / "logs"
    streams = LogStreams(logs, flush_interval_s=0)
    streams.attach("INFO")
    account = AccountRuntime(settings, settings.data_dir_path(), logger=logger, tagged=True)
    services = None
    try:
        account.open()
        account.build()
        account.start()
        services = build_account_signal_services(
            SignalsConfig(enabled=True, port=0), accounts=[account.signal_account()],
            logger=logger, environ={"BOT_SIGNAL_TOKEN": TOKEN})
        services.start()
        status, body = post(services.http.url, {"id": "sig-alpha-1", "symbol": BTC,
                                                "side": "long"})
        assert status in (202, 409), body  # delivered, or skipped: the actor not running yet
        wait_until(lambda: "sig-alpha-1" in _text(logs / "alpha" / "bot.log"), timeout=30,
                   message="the signal's line in alpha's own log")
    finally:
        if services is not None:
            services.stop(timeout_s=5)
        stop_all([account], logger)
        account.close()
        streams.close()
    mine = [line for line in _text(logs / "alpha" / "bot.log").splitlines()
            if "sig-alpha-1" in line]
    assert mine and all(" | alpha - | " in line for line in mine), mine
    tagged = [line for line in _text(logs / "bot.log").splitlines() if "sig-alpha-1" in line]
    assert tagged and all(" | alpha - | " in line for line in tagged), tagged


def _text(path: Path) -> str:
    return path.read_text() if path.exists() else ""
