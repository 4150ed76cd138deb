"""Two [[accounts]] trading one symbol on one real exchange account (same venue, same key) are
refused at load in live and dry-run mode: each would adopt the other's position and cancel its
stops."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from config import load_settings
from tests.config.refusals import refused, unlined

ROOT = Path(__file__).resolve().parents[2]
BTC, ETH = "BTC/USDT:USDT", "ETH/USDT:USDT"
VENUE = '[exchange]\nid = "bybit"\napi_url = "http://127.0.0.1:9"\n'
SHARED = (f'[symbols]\nlist = ["{ETH}"]\n'
          '[[accounts]]\nname = "alpha"\n'
          f'[[accounts]]\nname = "beta"\nsymbols.list = ["{ETH}", "{BTC}"]\n')


def write(tmp_path: Path, text: str, mode: str = "live") -> Path:
    path = tmp_path / "config.toml"
    path.write_text(f'[bot]\nmode = "{mode}"\n{text}')
    return path


def key_file(path: Path) -> Path:
    path.write_text('api_key = "k-0123456789"\nsecret = "s-0123456789"\n')
    os.chmod(path, 0o600)
    return path


@pytest.mark.parametrize("mode", ["live", "dry-run"])
def test_accounts_inheriting_one_key_on_one_venue_are_refused(tmp_path: Path, mode: str):
    path = write(tmp_path, VENUE + SHARED, mode)
    assert refused(path) == (
        f"{path}: accounts[0].exchange.api_key_env and accounts[1].exchange.api_key_env name "
        'the same key on bybit: "BOT_API_KEY" at http://127.0.0.1:9; both accounts would '
        f"trade {ETH} on one exchange account (give each account its own key)")
    # paper accounts are separate simulated exchanges
    paper = load_settings(write(tmp_path, VENUE + SHARED, mode="paper"))
    assert paper.account_names() == ("alpha", "beta")


def test_an_account_repeating_another_accounts_key_name_is_refused(tmp_path: Path):
    text = (VENUE + f'[symbols]\nlist = ["{ETH}"]\n'
            '[[accounts]]\nname = "alpha"\nexchange.api_key_env = "ALPHA_KEY"\n'
            'exchange.api_secret_env = "ALPHA_SECRET"\n'
            '[[accounts]]\nname = "beta"\nexchange.api_key_env = "BETA_KEY"\n'
            'exchange.api_secret_env = "BETA_SECRET"\n'
            '[[accounts]]\nname = "gamma"\nexchange.api_key_env = "ALPHA_KEY"\n'
            'exchange.api_secret_env = "GAMMA_SECRET"\n')
    message = refused(write(tmp_path, text))
    assert ": accounts[0].exchange.api_key_env and accounts[2].exchange.api_key_env name the " \
           'same key on bybit: "ALPHA_KEY" at http://127.0.0.1:9;' in message
    own = 'exchange.api_key_env = "BETA_KEY"\nexchange.api_secret_env = "BETA_SECRET"\n'
    assert load_settings(write(tmp_path, VENUE + SHARED + own)).has_accounts
    for other_venue in ('exchange.sandbox = true\n', 'exchange.demo = true\n',
                        'exchange.api_url = "http://127.0.0.1:10"\n', 'exchange.id = "okx"\n'):
        assert load_settings(write(tmp_path, VENUE + SHARED + other_venue)).has_accounts


def test_one_secrets_file_for_two_accounts_is_refused(tmp_path: Path):
    keys = key_file(tmp_path / "keys.toml")
    text = ('[exchange]\nid = "bybit"\napi_key_env = ""\napi_secret_env = ""\n' + SHARED
            + 'exchange.secrets_file = "./keys.toml"\n'
            + f'[[accounts]]\nname = "gamma"\nexchange.secrets_file = "{keys}"\n')
    path = write(tmp_path, text)
    assert refused(path) == (
        f"{path}: accounts[1].exchange.secrets_file and accounts[2].exchange.secrets_file name "
        f"the same key on bybit: {keys}; both accounts would trade {ETH} on one exchange "
        "account (give each account its own key)")
    other = key_file(tmp_path / "other.toml")
    assert load_settings(write(tmp_path, text.replace(str(keys), str(other)))).has_accounts
    # a configured secrets file is read instead of the env vars (exchange/ccxt/secrets.py
    # load_credentials): the env var names every account inherits are then no key of theirs.
    # Found by review: two accounts with their own files were refused as sharing "BOT_API_KEY"
    # "(read before exchange.secrets_file)", which is never read for them
    files_first = text.replace(str(keys), str(other)).replace(
        'api_key_env = ""\napi_secret_env = ""\n', "")
    assert load_settings(write(tmp_path, files_first)).account_names() == (
        "alpha", "beta", "gamma")
    own_files = (VENUE + f'[symbols]\nlist = ["{ETH}"]\n'
                 f'[[accounts]]\nname = "alpha"\nexchange.secrets_file = "{keys}"\n'
                 f'[[accounts]]\nname = "beta"\nexchange.secrets_file = "{other}"\n')
    assert load_settings(write(tmp_path, own_files)).has_accounts
    assert refused(write(tmp_path, own_files.replace(str(other), str(keys)))).endswith(
        f"accounts[0].exchange.secrets_file and accounts[1].exchange.secrets_file name the same "
        f"key on bybit: {keys} at http://127.0.0.1:9; both accounts would trade {ETH} on one "
        "exchange account (give each account its own key)")


def test_bot_status_prints_the_refusal_in_one_line(tmp_path: Path):
    path = write(tmp_path, VENUE + SHARED)
    result = subprocess.run([sys.executable, str(ROOT / "bot.py"), "status", "--config",
                             str(path)], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and result.stdout == "", result.stderr
    assert unlined(result.stderr) == (
        f"bot.py: error: {path}: accounts[0].exchange.api_key_env and "
        'accounts[1].exchange.api_key_env name the same key on bybit: "BOT_API_KEY" at '
        f"http://127.0.0.1:9; both accounts would trade {ETH} on one exchange account (give "
        "each account its own key)\n")


def test_one_exchange_account_split_by_symbol_is_allowed(tmp_path: Path):
    """Accounts sharing a key but no symbol never see each other's positions (one exchange
    account divided by symbol); a third one trading a symbol of the first is refused."""
    split = (VENUE + f'[symbols]\nlist = ["{ETH}"]\n[[accounts]]\nname = "alpha"\n'
             f'[[accounts]]\nname = "beta"\nsymbols.list = ["{BTC}"]\n')
    assert load_settings(write(tmp_path, split)).account_names() == ("alpha", "beta")
    third = split + f'[[accounts]]\nname = "gamma"\nsymbols.list = ["{BTC}", "SOL/USDT:USDT"]\n'
    assert refused(write(tmp_path, third)).endswith(
        f"accounts[1].exchange.api_key_env and accounts[2].exchange.api_key_env name the same "
        f'key on bybit: "BOT_API_KEY" at http://127.0.0.1:9; both accounts would trade {BTC} '
        "on one exchange account (give each account its own key)")
