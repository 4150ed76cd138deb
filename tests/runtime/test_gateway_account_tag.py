"""With several accounts in one process, each account's gateway lines (its retries, lookups,
markets reads) name the account, as the account's own lines do: `CcxtGateway(account=...)`
existed, but the runtime never passed it (runtime/exchanges.py `gateway_fields`), so two
accounts' retries of one venue read the same and went to no account's log. The classic
single-account layout tags nothing. Two real AccountRuntimes opened from one config file
(live, real ccxt bybit, the Bybit emulator on 127.0.0.1, real SQLite, a real loguru sink)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from loguru import logger

from config.loader import load_settings
from runtime.account import AccountRuntime
from tests.exchange.ccxt.ccxt_fixtures import PRICES
from tests.exchange.ccxt.emu_auth import API_KEY, API_SECRET
from tests.exchange.ccxt.emu_book import Book
from tests.exchange.ccxt.emu_bybit import BybitVenue
from tests.exchange.ccxt.emu_server import EmulatorServer

BTC = "BTC/USDT:USDT"
BUSY = {"retCode": 10016, "retMsg": "System error", "result": {}, "retExtInfo": {}, "time": 0}
KEYS = {"alpha": (API_KEY, API_SECRET), "beta": ("beta-key", "beta-secret")}
ACCOUNTS = """
[[accounts]]
name = "alpha"
exchange.api_key_env = "ALPHA_KEY_UNSET"
exchange.api_secret_env = "ALPHA_SECRET_UNSET"
exchange.secrets_file = "alpha.toml"
[[accounts]]
name = "beta"
exchange.api_key_env = "BETA_KEY_UNSET"
exchange.api_secret_env = "BETA_SECRET_UNSET"
exchange.secrets_file = "beta.toml"
"""


@pytest.fixture
def lines():
    records: list = []
    sink = logger.add(lambda m: records.append(m.record), level="WARNING")
    yield records
    logger.remove(sink)


def _config(tmp_path: Path, url: str, accounts: str) -> Path:
    for name, (key, secret) in KEYS.items():
        secrets = tmp_path / f"{name}.toml"
        secrets.write_text(f'api_key = "{key}"\nsecret = "{secret}"\n')
        secrets.chmod(0o600)
    config = tmp_path / "bot.toml"
    config.write_text(f"""
[bot]
mode = "live"
[exchange]
id = "bybit"
api_url = "{url}"
secrets_file = "alpha.toml"
timeout_ms = 2000
[symbols]
list = ["{BTC}"]
{accounts}""")
    return config


def _retry_lines(runtime: AccountRuntime, emu: EmulatorServer, lines: list) -> list:
    lines.clear()
    emu.fail_next("/v5/position/list", 1, body=BUSY)
    assert runtime.exchange is not None
    runtime.exchange.fetch_positions([BTC])
    return [r for r in lines if "fetch_positions failed" in r["message"]]


@pytest.mark.parametrize("accounts", [ACCOUNTS, ""], ids=["two-accounts", "single"])
def test_each_accounts_gateway_lines_carry_its_account(tmp_path, lines, accounts):
    book = Book(PRICES, now_ms=int(time.time() * 1000))
    venue = BybitVenue(book)
    venue.keys = dict(KEYS.values())
    with EmulatorServer(venue) as emu:
        settings = load_settings(_config(tmp_path, emu.base_url, accounts))
        runtimes = [AccountRuntime(s, tmp_path / "data", logger=logger,
                                   tagged=settings.has_accounts)
                    for s in settings.account_settings()]
        try:
            for runtime in runtimes:
                runtime.open()
            tags = [[r["extra"].get("account") for r in _retry_lines(rt, emu, lines)]
                    for rt in runtimes]
        finally:
            for runtime in runtimes:
                runtime.close()
    assert tags == ([["alpha"], ["beta"]] if accounts else [[None]])
