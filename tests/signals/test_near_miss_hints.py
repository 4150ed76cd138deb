"""A signal in a near-miss form is refused in one line naming what it got and the accepted
form: a symbol in lower case, without separators or without its settle suffix names the
configured symbol; another unknown symbol names the configured ones; a side such as "buy" is
quoted with the three accepted sides. The same for `bot.py signal` on the command line.

Found by review: "unknown symbol 'btc/usdt:usdt' (not in symbols.list)" and 'side: must be
"long", "short" or "exit"' left the sender guessing; with several accounts the list was the
first account's only."""

from __future__ import annotations

import json
from decimal import Decimal as D
from pathlib import Path

import pytest
from loguru import logger

import bot
from runtime import cli
from signals.accounts import AccountDispatcher
from tests.signals.support import make_router

BTC, ETH, SOL = "BTC/USDT:USDT", "ETH/USDT:USDT", "SOL/USDT:USDT"
ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("given", ["btc/usdt:usdt", "BTCUSDT", "BTC/USDT", "btc-usdt"])
def test_a_near_miss_symbol_names_the_configured_one(given):
    router, journal, deliver = make_router()
    out = router.handle({"id": "s1", "symbol": given, "side": "long"}, "test")
    assert (out.status, out.http_status) == ("rejected", 422)
    assert out.reason == (f"unknown symbol {given!r} (not in symbols.list; "
                          f'did you mean "{BTC}"?)'), out.reason
    assert deliver.calls == [] and len(journal.of("SignalRejected")) == 1


def test_another_unknown_symbol_names_the_configured_ones():
    router, _, _ = make_router()
    out = router.handle({"id": "s1", "symbol": "XRP/USDT:USDT", "side": "long"}, "test")
    assert out.reason == f"unknown symbol 'XRP/USDT:USDT' (not in symbols.list: {BTC}, {ETH})"
    many, _, _ = make_router(symbols=tuple(f"C{i}/USDT:USDT" for i in range(8)))
    out = many.handle({"id": "s2", "symbol": "XRP/USDT:USDT", "side": "long"}, "test")
    assert out.reason.endswith("C4/USDT:USDT and 3 more)"), out.reason


@pytest.mark.parametrize(("side", "got"), [("buy", "'buy'"), ("Sell", "'Sell'"),
                                           (1, "1"), (None, "nothing")])
def test_an_unknown_side_is_quoted_with_the_accepted_ones(side, got):
    router, _, _ = make_router()
    body = {"id": "s1", "symbol": BTC, **({} if side is None else {"side": side})}
    out = router.handle(body, "test")
    assert (out.http_status, out.reason) == (
        400, f'side: must be "long", "short" or "exit" (got {got})')


def test_with_several_accounts_the_hint_covers_every_account():
    alpha, beta = make_router(symbols=(BTC, ETH)), make_router(symbols=(ETH, SOL))
    d = AccountDispatcher({"alpha": alpha[0], "beta": beta[0]}, logger)
    out = d.handle({"id": "s1", "symbol": "sol/usdt:usdt", "side": "long"}, "test")
    assert (out.http_status, out.reason) == (
        422, f"unknown symbol 'sol/usdt:usdt' (not in symbols.list; did you mean \"{SOL}\"?)")
    out = d.handle({"id": "s2", "symbol": "XRP/USDT:USDT", "side": "long"}, "test")
    assert out.reason == (f"unknown symbol 'XRP/USDT:USDT' (not in symbols.list: {BTC}, {ETH}, "
                          f"{SOL})"), out.reason
    assert [cid for *_, cid in alpha[1].of("SignalRejected")] == ["s1", "s2"]
    assert alpha[2].calls == [] and beta[2].calls == []


def test_the_command_line_signal_names_the_configured_symbol(tmp_path, capsys):
    code = cli.dispatch(bot.parser().parse_args([
        "signal", "btc/usdt:usdt", "long", "--config", str(ROOT / "config.toml"),
        "--data-dir", str(tmp_path)]))
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1, err
    assert err.rstrip().endswith(f'(did you mean "{BTC}"?)'), err
    assert not (tmp_path / "bot.sqlite").exists()  # nothing was queued


@pytest.mark.parametrize("given", ["btc/usdt:usdt", "BTCUSDT"])
def test_the_command_line_logs_name_the_configured_symbol(tmp_path, capsys, given):
    code = cli.dispatch(bot.parser().parse_args([
        "logs", given, "--config", str(ROOT / "config.toml"), "--data-dir", str(tmp_path)]))
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1, err
    assert err.rstrip().endswith(f'(did you mean "{BTC}"?)'), err


def test_a_size_above_the_cap_is_named_in_plain_digits():
    """A size sent as 1e5 was refused as "size_usdt 1E+5 is above signals.max_size_usdt 1E+3"
    (str of a Decimal read from JSON's exponent form; found by review)."""
    router, _, _ = make_router(max_size_usdt=D("1E+3"))
    out = router.handle(json.loads('{"id": "s1", "symbol": "BTC/USDT:USDT", "side": "long", '
                                   '"size_usdt": 1e5}', parse_float=D), "test")
    assert (out.http_status, out.reason) == (
        422, "size_usdt 100000 is above signals.max_size_usdt 1000")
