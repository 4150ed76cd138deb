"""The workers' parent serves the dashboard for accounts it does not run (dashboard/parent.py):
what each account takes must come from that account's own config, as in one process. A close
for a hedge-grid account answered 202 there and was journaled SignalSkipped by its worker
(nothing closed), and a reset of a protection the account does not run was queued and
journaled 'unknown protection': the person read both as accepted. Real config, real
ParentDashboard, real HTTP on 127.0.0.1."""

from __future__ import annotations

import json
from pathlib import Path

from loguru import logger

from config.loader import load_settings
from dashboard.parent import ParentDashboard
from tests.dashboard.test_server import call
from tests.e2e.test_workers import write_accounts_config

TOKEN = "parent-controls-token-5d1f"
BETA = ('[[accounts]]\nname = "beta"\nstrategy.name = "hedge_grid"\nexchange.hedge_mode = true\n'
        "risk.stop_loss_pct = 10\nprotections.daily_loss_limit_usdt = 500\n")


def parent_for(tmp_path: Path) -> ParentDashboard:
    config = write_accounts_config(tmp_path / "bot.toml")
    token = tmp_path / "dashboard.token"
    token.write_text(TOKEN)
    token.chmod(0o600)
    text = config.read_text().replace(
        "[dashboard]\nenabled = false\n",
        f'[dashboard]\nenabled = true\nport = 0\ntoken_file = "{token}"\n').replace(
        '[[accounts]]\nname = "beta"\n', BETA)
    config.write_text(text)
    data = tmp_path / "data"
    data.mkdir()
    return ParentDashboard(settings=load_settings(config, data), data_dir=data, logger=logger)


def test_the_parent_refuses_what_an_account_does_not_take_as_one_process_does(tmp_path):
    parent = parent_for(tmp_path)
    parent.start()
    try:
        assert parent.url is not None
        bearer = {"Authorization": f"Bearer {TOKEN}"}

        def control(body: dict) -> tuple[int, str]:
            return call(parent.url + "/api/control", headers=bearer, body=body)

        code, text = control({"account": "beta", "command": "close",
                              "symbol": "ETH/USDT:USDT"})
        assert code == 400, text
        assert json.loads(text)["reason"].startswith(
            "command: close is not taken by account beta's hedge grid"), text
        code, text = control({"account": "beta", "command": "reset_protection",
                              "name": "max_drawdown"})
        assert code == 400, text
        assert json.loads(text)["reason"] == ("name: account beta has no max_drawdown "
                                              "protection (it has: daily_loss_limit)"), text
        # what the account takes passes the checks and reaches its database (not created yet:
        # its worker has not started it, so 503 naming the account, not a 400)
        for account, body in (("alpha", {"command": "close", "symbol": "BTC/USDT:USDT"}),
                              ("beta", {"command": "reset_protection",
                                        "name": "daily_loss_limit"})):
            code, text = control({"account": account, **body})
            assert code == 503 and f"account {account}: its database does not exist" in text, (
                account, text)
    finally:
        parent.stop()
