"""Values the loader used to coerce or let through are refused with one line naming the key
and the value (found by review)."""

from __future__ import annotations

from pathlib import Path

import pytest

from config import load_settings
from tests.config.refusals import refused

SYMBOLS = '[symbols]\nlist = ["BTC/USDT:USDT"]\n'


def _config(tmp_path: Path, text: str, symbols: str = SYMBOLS) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(symbols + text)
    return path


@pytest.mark.parametrize(("value", "got"), [("true", "true"), ('"123"', '"123"'),
                                            ("12.0", "12.0")])
def test_a_chat_id_that_is_not_an_integer_is_refused(tmp_path: Path, value: str, got: str):
    # pydantic's lax int turned `true` into chat 1, "123" into 123 and 12.0 into 12: an
    # allow-list entry nobody wrote
    path = _config(tmp_path, f"[telegram]\nchat_ids = [5, {value}]\n")
    assert refused(path) == f"{path}: telegram.chat_ids[1]: expected an integer (got {got})"


def test_integer_chat_ids_are_kept(tmp_path: Path):
    path = _config(tmp_path, "[telegram]\nchat_ids = [123456789, -1001234567890]\n")
    assert load_settings(path).telegram.chat_ids == (123456789, -1001234567890)


@pytest.mark.parametrize(("symbol", "cased"), [
    ("btc/usdt:usdt", "BTC/USDT:USDT"),
    ("BTC/usdt:usdt", "BTC/USDT:USDT"),
    ("1000pepe/USDT:USDT", "1000PEPE/USDT:USDT"),
    ("kPEPE/usdc:usdc", "kPEPE/USDC:USDC"),
])
def test_a_lower_case_symbol_is_refused_naming_the_key_and_the_symbol(
        tmp_path: Path, symbol: str, cased: str):
    path = _config(tmp_path, "", f'[symbols]\nlist = ["ETH/USDT:USDT", "{symbol}"]\n')
    assert refused(path) == (f'{path}: symbols.list[1]: must be written as ccxt writes it, in '
                             f'upper case: "{cased}" (got "{symbol}")')


def test_a_lower_case_price_file_symbol_is_refused_too(tmp_path: Path):
    path = _config(tmp_path, '[paper]\nprice_source = "csv"\n'
                   '[paper.csv_files]\n"BTC/USDT:USDT" = "a.csv"\n"eth/usdt:usdt" = "b.csv"\n')
    assert refused(path) == (f'{path}: paper.csv_files["eth/usdt:usdt"]: key must be written as '
                             f'ccxt writes it, in upper case: "ETH/USDT:USDT" (got '
                             f'"eth/usdt:usdt")')


def test_symbols_as_ccxt_writes_them_are_kept(tmp_path: Path):
    path = _config(tmp_path, "", '[symbols]\nlist = ["BTC/USDT:USDT", "kPEPE/USDC:USDC", '
                   '"1000PEPE/USDT:USDT", "1INCH/USDT:USDT"]\n')
    assert load_settings(path).symbols.list == (
        "BTC/USDT:USDT", "kPEPE/USDC:USDC", "1000PEPE/USDT:USDT", "1INCH/USDT:USDT")


def test_an_absurd_order_size_is_refused_naming_the_key(tmp_path: Path):
    # a typo or a unit mix-up (1e12) loaded and became the size of every entry
    path = _config(tmp_path, "[risk]\norder_size_usdt = 1e12\n")
    assert refused(path) == (
        f"{path}: risk.order_size_usdt: must be > 0 and <= 10000000 (got 1000000000000.0)")


def test_an_account_s_absurd_order_size_is_refused_too(tmp_path: Path):
    path = _config(tmp_path, '[[accounts]]\nname = "a"\n[accounts.risk]\n'
                   'order_size_usdt = 20000000\n', "")
    path.write_text(path.read_text() + SYMBOLS.replace("[symbols]", "[accounts.symbols]"))
    assert refused(path) == (
        f"{path}: accounts[0].risk.order_size_usdt: must be > 0 and <= 10000000 (got 20000000)")


def test_the_largest_order_size_is_still_accepted(tmp_path: Path):
    path = _config(tmp_path, "[risk]\norder_size_usdt = 10000000\n")
    assert load_settings(path).risk.order_size_usdt == 10_000_000
