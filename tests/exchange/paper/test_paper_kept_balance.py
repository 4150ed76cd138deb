"""An existing paper store keeps its balance, whatever starting balance it is opened with (a
real account is not refilled by a setting), and the user is told so in one line at start, in
the log and on stderr, naming the setting, both balances and how to start over: the user
believed they traded 50,000 and traded the store's 10,000."""

from __future__ import annotations

import argparse
import sqlite3
from collections.abc import Callable, Iterator
from decimal import Decimal as D
from pathlib import Path

import pytest
from loguru import logger

from exchange.paper import PaperExchange
from exchange.paper_server.__main__ import open_exchange
from supervision.instance_lock import FileLock
from tests.exchange.paper.paper_support import BTC


@pytest.fixture
def log_lines() -> Iterator[list[str]]:
    lines: list[str] = []
    sink = logger.add(lambda m: lines.append(str(m.record["message"])), level="WARNING")
    yield lines
    logger.remove(sink)


def _kept(text: str) -> list[str]:
    return [line for line in text.splitlines() if "keeps its own balance" in line]


def test_a_store_opened_with_another_balance_keeps_its_own_and_says_so(
    make_exchange: Callable[..., PaperExchange], tmp_path: Path,
    capsys: pytest.CaptureFixture[str], log_lines: list[str],
) -> None:
    make_exchange(starting_balance=D("10000")).close()
    assert _kept(capsys.readouterr().err) == [] and _kept("\n".join(log_lines)) == []

    ex = make_exchange(starting_balance=D("50000"))
    assert ex.wallet_balance() == D("10000")  # never changed silently, nor at all
    [line] = _kept(capsys.readouterr().err)
    store = tmp_path / "paper.db"
    assert line == (
        f"paper: {store}: this paper account keeps its own balance: "
        "paper.starting_balance_usdt 50000 USDT is not applied (the store was started with "
        "10000 USDT; its wallet holds 10000 USDT); to start over with 50000 USDT, stop the "
        f"bot and move {store} aside (a new store is created at the next start)")
    assert _kept("\n".join(log_lines)) == [line.removeprefix("paper: ")]


def test_the_same_balance_after_trading_says_nothing(
    make_exchange: Callable[..., PaperExchange], capsys: pytest.CaptureFixture[str],
    log_lines: list[str],
) -> None:
    ex = make_exchange(starting_balance=D("10000"))
    ex.create_order(BTC, "market", "buy", D("0.01"))
    ex.create_order(BTC, "market", "sell", D("0.01"))
    assert ex.wallet_balance() != D("10000")  # fees paid
    ex.close()
    make_exchange(starting_balance=D("10000"))
    assert _kept(capsys.readouterr().err) == [] and log_lines == []


def test_a_store_from_before_the_starting_balance_was_recorded_derives_it(
    make_exchange: Callable[..., PaperExchange], tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A store an older version wrote has no recorded starting balance: it is its wallet
    less the fills' realized P&L and fees, so trading alone never reads as another balance."""
    ex = make_exchange(starting_balance=D("10000"))
    ex.create_order(BTC, "market", "buy", D("0.01"))
    ex.create_order(BTC, "market", "sell", D("0.01"))
    wallet = ex.wallet_balance()
    ex.close()
    with sqlite3.connect(tmp_path / "paper.db") as con:
        con.execute("DELETE FROM meta WHERE key = 'starting_balance'")
    con.close()
    make_exchange(starting_balance=D("10000")).close()
    assert _kept(capsys.readouterr().err) == []
    make_exchange(starting_balance=D("20000"))
    [line] = _kept(capsys.readouterr().err)
    shown = format(wallet.normalize(), "f")
    assert f"started with 10000 USDT; its wallet holds {shown} USDT" in line


def test_the_paper_servers_balance_option_is_named(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    store = tmp_path / "shared.sqlite"

    def args(balance: str) -> argparse.Namespace:
        return argparse.Namespace(store=store, balance=balance, symbols=BTC, seed=1,
                                  step_ms=250, hedge_mode=False)

    for balance in ("10000", "50000"):
        lock = FileLock(store)
        try:
            ex = open_exchange(args(balance), lock)
            assert ex.wallet_balance() == D("10000")
            ex.close()
        finally:
            lock.release()
    [line] = _kept(capsys.readouterr().err)
    assert "--balance 50000 USDT is not applied (the store was started with 10000 USDT" in line
