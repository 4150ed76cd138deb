"""A protection limit in % of capital needs `protections.capital_usdt` in live mode: the paper
balance it used to be taken of silently is no real account's capital (paper and dry-run keep
that default)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from config import ConfigError, load_settings
from tests.config.refusals import unlined

LIVE = '[bot]\nmode = "{mode}"\n[exchange]\nid = "bybit"\n[symbols]\nlist = ["BTC/USDT:USDT"]\n'


def _load(tmp_path: Path, text: str, mode: str = "live"):
    path = tmp_path / "config.toml"
    path.write_text(LIVE.format(mode=mode) + text)
    return path, lambda: load_settings(path)


@pytest.mark.parametrize("key", ["daily_loss_limit_pct", "max_drawdown_pct"])
def test_a_percent_limit_without_capital_is_refused_in_live_mode(tmp_path: Path, key: str):
    path, load = _load(tmp_path, f"[protections]\n{key} = 2\n")
    with pytest.raises(ConfigError) as info:
        load()
    assert unlined(str(info.value)) == (
        f'{path}: protections.{key}: needs protections.capital_usdt when bot.mode = "live"')
    path, load = _load(tmp_path, f"[protections]\n{key} = 2\ncapital_usdt = 5000\n")
    assert load().protections.capital_usdt == Decimal(5000)
    for mode in ("paper", "dry-run"):
        path, load = _load(tmp_path, f"[protections]\n{key} = 2\n", mode=mode)
        assert getattr(load().protections, key) == Decimal(2)


def test_each_live_account_needs_its_capital_for_a_percent_limit(tmp_path: Path):
    accounts = ('[protections]\ndaily_loss_limit_pct = 2\n'
                '[[accounts]]\nname = "alpha"\nprotections.capital_usdt = 3000\n'
                '[[accounts]]\nname = "beta"\n')
    path, load = _load(tmp_path, accounts)
    with pytest.raises(ConfigError) as info:
        load()
    assert unlined(str(info.value)) == (
        f"{path}: accounts[1].protections.daily_loss_limit_pct: needs "
        'accounts[1].protections.capital_usdt when bot.mode = "live"')
