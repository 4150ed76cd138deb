"""[[accounts]]: inheritance from the top-level sections, per-account files, one-line errors."""

from __future__ import annotations

import re
import typing
from decimal import Decimal
from pathlib import Path

import pytest

from config import ConfigError, load_settings
from config.settings import ACCOUNT_SECTIONS, AccountSettings, Settings
from tests.config.refusals import unlined

REPO = Path(__file__).resolve().parents[2]
BTC, ETH, SOL = "BTC/USDT:USDT", "ETH/USDT:USDT", "SOL/USDT:USDT"

TWO_ACCOUNTS = f"""
[bot]
account = "ignored"
[symbols]
list = ["{BTC}"]
[strategy]
window = 30
[risk]
order_size_usdt = 50
stop_loss_pct = 2
[paper]
seed = 5

[[accounts]]
name = "alpha"

[[accounts]]
name = "beta"
symbols.list = ["{ETH}", "{BTC}"]
exchange.api_key_env = "BETA_KEY"
exchange.api_secret_env = "BETA_SECRET"
risk.order_size_usdt = 20
[accounts.paper]
starting_balance_usdt = 2000
"""


def load(tmp_path: Path, text: str) -> Settings:
    path = tmp_path / "config.toml"
    path.write_text(text)
    return load_settings(path)


def error(tmp_path: Path, text: str) -> str:
    with pytest.raises(ConfigError) as info:
        load(tmp_path, text)
    message = str(info.value)
    assert "\n" not in message
    assert re.match(rf"{re.escape(str(tmp_path / 'config.toml'))}(:\d+)?: ", message)
    return unlined(message)


def test_without_accounts_the_file_is_the_one_account_named_bot_account(tmp_path: Path):
    settings = load(tmp_path, f'[bot]\naccount = "solo"\n[symbols]\nlist = ["{BTC}"]\n')
    assert not settings.has_accounts and settings.account_names() == ("solo",)
    (only,) = settings.account_settings()
    assert only is settings  # same files as always: data_dir/bot.sqlite, paper_exchange.sqlite
    assert settings.resolve(only.storage.path) == tmp_path / "data" / "bot.sqlite"
    shipped = load_settings(REPO / "config.toml")
    assert not shipped.has_accounts and shipped.account_names() == ("main",)


def test_accounts_inherit_top_level_sections_key_by_key(tmp_path: Path):
    settings = load(tmp_path, TWO_ACCOUNTS)
    assert settings.has_accounts and settings.account_names() == ("alpha", "beta")
    alpha, beta = settings.account_settings()
    assert alpha.bot.account == "alpha" and beta.bot.account == "beta"
    assert alpha.symbols.list == (BTC,) and beta.symbols.list == (ETH, BTC)
    # beta replaces only the keys it gives; the rest of each section comes from the top level
    assert alpha.risk.order_size_usdt == Decimal(50) and beta.risk.order_size_usdt == Decimal(20)
    assert alpha.risk.stop_loss_pct == beta.risk.stop_loss_pct == Decimal(2)
    assert alpha.strategy.window == beta.strategy.window == 30
    assert beta.paper.starting_balance_usdt == Decimal(2000) and beta.paper.seed == 5
    assert alpha.paper.starting_balance_usdt == Decimal(10000)
    # keys come from the account's own environment variable names
    assert (beta.exchange.api_key_env, beta.exchange.api_secret_env) == ("BETA_KEY", "BETA_SECRET")
    assert alpha.exchange.api_key_env == "BOT_API_KEY"
    # each account's files live apart: data_dir/accounts/<name>/
    data = tmp_path / "data"
    assert alpha.resolve(alpha.storage.path) == data / "accounts" / "alpha" / "bot.sqlite"
    assert beta.resolve(beta.storage.path) == data / "accounts" / "beta" / "bot.sqlite"
    assert beta.resolve(beta.paper.store) == data / "accounts" / "beta" / "paper_exchange.sqlite"
    assert beta.resolve(beta.exchange.markets_cache) == data / "accounts" / "beta" / "markets.json"
    assert settings.for_account("beta").risk == beta.risk


def test_account_sections_are_the_top_level_section_types():
    """A key added to a section model (say a grid strategy's) is accepted per account too."""
    for section in ACCOUNT_SECTIONS:
        top = Settings.model_fields[section].annotation  # symbols is optional at the top level
        own = AccountSettings.model_fields[section].annotation
        assert own is top or own in typing.get_args(top), section


@pytest.mark.parametrize(
    ("accounts", "expected"),
    [
        ('[[accounts]]\nname = "a"\n[[accounts]]\nname = "b"\nsymbols.list = ["BTC/USDT"]',
         'accounts[1].symbols.list[0]: must be a ccxt linear perpetual'),
        ('[[accounts]]\nname = "Alpha!"',
         'accounts[0].name: must be 1..12 characters of a-z, 0-9, _ (got "Alpha!")'),
        ('[[accounts]]\nsymbols.list = []', "accounts[0].name: required key is missing"),
        ('[[accounts]]\nname = "a"\n[[accounts]]\nname = "a"',
         'accounts[1].name: duplicate of accounts[0].name'),
        ('[[accounts]]\nname = "a"\nriks.order_size_usdt = 1',
         "accounts[0].riks: unknown key (allowed: name, exchange, symbols, strategy, risk, "
         "supervision, paper, protections)"),
        ('[[accounts]]\nname = "a"\nrisk.stop_loss_pct = 0',
         "accounts[0].risk.stop_loss_pct: must be > 0 and <= 50 (got 0)"),
        ('[[accounts]]\nname = "a"\nstrategy.entry_z = 0.2',
         "accounts[0].strategy.exit_z: must be < strategy.entry_z (0.2) (got 0.3)"),
        ('[[accounts]]\nname = "a"\nbot.mode = "live"', "accounts[0].bot: unknown key"),
        ("accounts = []", "accounts: must have 1..64 entries (got 0)"),
        ('[storage]\npath = "/abs/bot.sqlite"\n[[accounts]]\nname = "a"',
         "storage.path: must be a relative path"),
        ('[[accounts]]\nname = "a"\npaper.store = "/abs/p.sqlite"',
         "accounts[0].paper.store: must be a relative path"),
    ],
)
def test_problems_in_an_account_name_the_account_index_and_key(tmp_path: Path, accounts: str,
                                                               expected: str):
    assert expected in error(tmp_path, accounts + f'\n[symbols]\nlist = ["{BTC}"]\n')


def test_symbols_are_required_somewhere(tmp_path: Path):
    assert "accounts[0].symbols: required section is missing" in error(
        tmp_path, '[[accounts]]\nname = "a"\n')
    assert "symbols: required section is missing" in error(tmp_path, "[risk]\nleverage = 2\n")
    ok = load(tmp_path, f'[[accounts]]\nname = "a"\nsymbols.list = ["{SOL}"]\n')
    assert ok.symbols is None and ok.account_settings()[0].symbols.list == (SOL,)


def test_a_bad_inherited_value_is_reported_once_at_the_top_level(tmp_path: Path):
    text = (f'[symbols]\nlist = ["{BTC}"]\n[risk]\nstop_loss_pct = -1\n[[accounts]]\nname = "a"\n'
            '[[accounts]]\nname = "b"\n')
    with pytest.raises(ConfigError) as info:
        load(tmp_path, text)
    assert [p.split(": ", 2)[1] for p in info.value.problems] == ["risk.stop_loss_pct"]


def test_live_mode_and_files_are_checked_per_account(tmp_path: Path):
    text = (f'[bot]\nmode = "live"\n[exchange]\nid = "bybit"\n[symbols]\nlist = ["{BTC}"]\n'
            '[[accounts]]\nname = "a"\n[[accounts]]\nname = "b"\nexchange.id = "paper"\n')
    assert ('accounts[1].exchange.id: must be a real ccxt exchange id when bot.mode = "live"'
            in error(tmp_path, text))
    csv = (f'[symbols]\nlist = ["{BTC}"]\n[[accounts]]\nname = "a"\n[[accounts]]\nname = "b"\n'
           f'paper.price_source = "csv"\npaper.csv_files = {{"{BTC}" = "btc.csv"}}\n')
    assert f'accounts[1].paper.csv_files["{BTC}"]: file not found' in error(tmp_path, csv)
    secrets = (f'[symbols]\nlist = ["{BTC}"]\n[[accounts]]\nname = "a"\n'
               '[[accounts]]\nname = "b"\nexchange.secrets_file = "nope.toml"\n')
    assert "accounts[1].exchange.secrets_file: file not found" in error(tmp_path, secrets)


def test_the_example_config_runs_four_paper_accounts_sharing_symbols_one_of_them_a_grid():
    settings = load_settings(REPO / "examples" / "multi_account.toml")
    accounts = settings.account_settings()
    assert [a.bot.account for a in accounts] == ["alpha", "beta", "gamma", "delta"]
    assert all(a.bot.mode == "paper" and a.exchange.id == "paper" for a in accounts)
    alpha, beta, gamma, delta = accounts
    assert set(alpha.symbols.list) & set(beta.symbols.list) == {ETH}
    assert len({a.risk for a in accounts}) == 4
    assert [a.strategy.name for a in accounts] == ["mean_reversion"] * 3 + ["hedge_grid"]
    assert delta.exchange.hedge_mode and not alpha.exchange.hedge_mode
    assert not set(gamma.symbols.list) & (set(alpha.symbols.list) | set(beta.symbols.list))
