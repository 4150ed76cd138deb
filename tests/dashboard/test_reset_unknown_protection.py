"""`reset_protection` for a protection the account does not run was answered 202 'queued' and
the run loop journaled 'unknown protection': the person read the reset as accepted. It is a
400 naming the protection and the ones the account has (a real `python bot.py` subprocess)."""

from __future__ import annotations

import pytest

from tests.dashboard.running_bot import TOKEN, RunningBot

pytestmark = pytest.mark.slow


def test_resetting_a_protection_the_account_does_not_run_is_a_400(tmp_path):
    bot = RunningBot(tmp_path, protections={"daily_loss_limit_usdt": 1000},
                     ready=lambda s: True)
    try:
        code, body, _ = bot.request("/api/control", headers={"Authorization": f"Bearer {TOKEN}"},
                                    body={"command": "reset_protection", "name": "max_drawdown"})
        assert code == 400, body
        assert body["reason"] == ("name: account main has no max_drawdown protection "
                                  "(it has: daily_loss_limit)"), body
        code, body, _ = bot.request("/api/control", headers={"Authorization": f"Bearer {TOKEN}"},
                                    body={"command": "reset_protection",
                                          "name": "daily_loss_limit"})
        assert code == 202, body
    finally:
        code, err = bot.stop()
    assert code == 0, err[-2000:]
