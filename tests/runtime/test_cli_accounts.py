"""--account on the command line: checked against the config, required only when ambiguous."""

from __future__ import annotations

from pathlib import Path

import pytest

from config.loader import load_settings
from runtime.cli import UsageError, pick_account

ROOT = Path(__file__).resolve().parents[2]
ETH, BTC, BNB = "ETH/USDT:USDT", "BTC/USDT:USDT", "BNB/USDT:USDT"


def test_single_account_needs_no_account_but_checks_a_given_one():
    settings = load_settings(ROOT / "config.toml")
    assert pick_account(settings, None, required=True) == "main"
    assert pick_account(settings, "main", BTC, required=False) == "main"
    with pytest.raises(UsageError, match=r"--account: unknown account 'beta' \(choose from: main\)"):
        pick_account(settings, "beta", required=True)


def test_several_accounts():
    settings = load_settings(ROOT / "examples" / "multi_account.toml")
    with pytest.raises(UsageError, match=r"required when several accounts are configured \(choose from: alpha, beta, gamma, delta\)"):
        pick_account(settings, None, BTC, required=True)
    assert pick_account(settings, None, BNB, required=False) == "gamma"  # the only one trading it
    with pytest.raises(UsageError, match="ETH/USDT:USDT is traded by accounts alpha, beta"):
        pick_account(settings, None, ETH, required=False)
    assert pick_account(settings, "beta", ETH, required=True) == "beta"
    assert pick_account(settings, None, "XYZ/USDT:USDT", required=False) is None
    with pytest.raises(UsageError, match="unknown account 'omega'"):
        pick_account(settings, "omega", ETH, required=False)
