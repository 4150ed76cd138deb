"""The exchange outlives the bot: state survives a new instance, and time kept running."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from collections import defaultdict
from decimal import Decimal as D
from pathlib import Path

import pytest

from exchange import errors
from exchange.paper import CsvPriceSource, GeneratorPriceSource, PaperExchange
from tests.exchange.paper.paper_support import BTC, ETH, FakeClock

ROOT = Path(__file__).resolve().parents[3]


def test_state_survives_a_new_instance(make_exchange, market) -> None:
    ex1 = make_exchange()
    ex1.create_order(BTC, "market", "buy", D("0.01"), params={"clientOrderId": "e1"})
    stop = ex1.create_order(BTC, "market", "sell", D("0.01"),
                            params={"stopLossPrice": D("59000"), "clientOrderId": "s1"})
    limit = ex1.create_order(ETH, "limit", "buy", D("1"), D("2800"), {"clientOrderId": "l1"})
    balance1, positions1 = ex1.fetch_balance(), ex1.fetch_positions()
    ex1.close()

    ex2 = make_exchange(starting_balance=D("1"))  # ignored: the file already has an account
    assert ex2.fetch_balance() == balance1
    assert ex2.fetch_positions() == positions1
    assert [o.id for o in ex2.fetch_open_orders()] == [stop.id, limit.id]
    assert ex2.fetch_order(None, BTC, {"clientOrderId": "e1"}).status == "closed"
    with pytest.raises(Exception, match="duplicate clientOrderId"):
        ex2.create_order(BTC, "market", "buy", D("0.01"), params={"clientOrderId": "e1"})
    new = ex2.create_order(BTC, "market", "buy", D("0.001"))
    assert int(new.id) > int(limit.id)  # ids continue
    assert len(ex2.submissions()) == 5


def test_stop_triggers_during_downtime(make_exchange, market) -> None:
    ex1 = make_exchange()
    ex1.create_order(BTC, "market", "buy", D("0.01"))
    stop = ex1.create_order(BTC, "market", "sell", D("0.01"), params={"stopLossPrice": D("59000")})
    wallet = ex1.wallet_balance()
    del ex1  # the bot process dies without closing anything

    # the market keeps moving for an hour while nobody is connected
    market.move(BTC, "59800", "58950", "60500", step_s=1200)
    crash_ms = market.clock.ms - 1_200_000
    ex2 = make_exchange()
    assert ex2.fetch_open_orders() == []
    assert ex2.fetch_order(stop.id, BTC).status == "closed"
    trade = ex2.fetch_my_trades(BTC)[-1]
    assert trade.timestamp == crash_ms and trade.price == D("58944.1")
    assert ex2.fetch_positions() == []
    assert ex2.wallet_balance() == wallet + trade.realized_pnl - trade.fee.cost


def test_generator_prices_continue_from_checkpoint(tmp_path: Path) -> None:
    clock = FakeClock()
    src = GeneratorPriceSource(seed=5, epoch_ms=clock.ms, speed=60)
    path = tmp_path / "gen.db"
    ex1 = PaperExchange(store_path=path, symbols=[BTC], price_source=src, clock=clock)
    ex1.create_order(BTC, "market", "buy", D("0.01"))
    clock.advance(600)
    ex1.fetch_tickers()
    ex1.close()
    clock.advance(600)
    fresh_src = GeneratorPriceSource(seed=5, epoch_ms=src.epoch_ms, speed=60)
    ex2 = PaperExchange(store_path=path, symbols=[BTC], price_source=fresh_src, clock=clock)
    try:
        expected = src.path(BTC, clock.ms - 250, clock.ms)[-1][1]
        assert ex2.fetch_tickers()[BTC].last == ex2.price_to_precision(BTC, expected)
        # the fresh source was seeded from the persisted checkpoint, not recomputed from 0
        assert min(fresh_src._walk(BTC).checkpoints) == 0
        assert 2400 in fresh_src._walk(BTC).checkpoints
    finally:
        ex2.close()


def _csv_source(tmp_path: Path, clock: FakeClock, symbols: dict[str, str]) -> CsvPriceSource:
    files = {}
    for symbol, price in symbols.items():
        rows = "".join(f"{clock.ms + i * 60_000},{price},{price},{price},{price},1\n"
                       for i in range(10))
        files[symbol] = tmp_path / f"{symbol.split('/')[0]}.csv"
        files[symbol].write_text("timestamp,open,high,low,close,volume\n" + rows)
    return CsvPriceSource(files=files, step_ms=1000, epoch_ms=clock.ms)


def _checkpoint_threads() -> int:
    return sum(t.name == "paper-wal-checkpoint" for t in threading.enumerate())


def test_a_closed_position_is_not_state_at_restart(tmp_path: Path) -> None:
    clock, path = FakeClock(), tmp_path / "csv.db"
    both = _csv_source(tmp_path, clock, {BTC: "60000", ETH: "3000"})
    ex1 = PaperExchange(store_path=path, symbols=[BTC, ETH], price_source=both, clock=clock)
    ex1.create_order(ETH, "market", "buy", D("0.1"))
    ex1.create_order(ETH, "market", "sell", D("0.1"), None, {"reduceOnly": True})
    ex1.close()
    btc_only = _csv_source(tmp_path, clock, {BTC: "60000"})  # the replay no longer has ETH
    ex2 = PaperExchange(store_path=path, symbols=[BTC], price_source=btc_only, clock=clock)
    try:
        assert ex2.symbols == [BTC] and ex2.fetch_positions() == []
        assert ex2.fetch_tickers()[BTC].last == D("60000")
    finally:
        ex2.close()


def test_a_failed_restore_closes_the_store(tmp_path: Path) -> None:
    clock, path = FakeClock(), tmp_path / "csv.db"
    both = _csv_source(tmp_path, clock, {BTC: "60000", ETH: "3000"})
    ex1 = PaperExchange(store_path=path, symbols=[BTC, ETH], price_source=both, clock=clock)
    ex1.create_order(ETH, "market", "buy", D("0.1"))  # ETH holds a position: it is state
    ex1.close()
    threads = _checkpoint_threads()
    btc_only = _csv_source(tmp_path, clock, {BTC: "60000"})
    with pytest.raises(KeyError, match="no data for ETH/USDT:USDT"):
        PaperExchange(store_path=path, symbols=[BTC], price_source=btc_only, clock=clock)
    assert _checkpoint_threads() == threads  # the store was closed (its thread stopped)


def test_database_layout(ex: PaperExchange, tmp_path: Path) -> None:
    ex.create_order(BTC, "market", "buy", D("0.01"), params={"clientOrderId": "c1"})
    db = sqlite3.connect(tmp_path / "paper.db")
    try:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        assert {"meta", "balance", "positions", "orders", "trades", "submissions", "prices"} <= tables
        indexes = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='index'")}
        assert {"orders_client_id", "orders_symbol_status"} <= indexes
        assert dict(db.execute("SELECT key, value FROM meta"))["schema_version"] == "1"
    finally:
        db.close()


CHILD = textwrap.dedent("""
    import sys, time
    from decimal import Decimal as D
    from exchange.paper import CsvPriceSource, GeneratorPriceSource, PaperExchange
    symbols = [f"SYM{i}/USDT:USDT" for i in range(8)]
    src = GeneratorPriceSource(seed=9, epoch_ms=int(sys.argv[2]), speed=3600)
    ex = PaperExchange(store_path=sys.argv[1], symbols=symbols, price_source=src)
    print("ready", flush=True)
    i = 0
    while True:
        s = symbols[i % len(symbols)]
        last = ex.fetch_tickers([s])[s].last
        amount = ex.amount_to_precision(s, D(20) / last)
        side = "buy" if (i // 8) % 3 else "sell"
        try:
            ex.create_order(s, "market", side, amount, params={"clientOrderId": f"k{i}"})
            stop = ex.price_to_precision(s, last * (D("0.99") if side == "buy" else D("1.01")))
            ex.create_order(s, "market", "sell" if side == "buy" else "buy", amount,
                            params={"stopLossPrice": stop, "clientOrderId": f"s{i}"})
        except Exception:
            pass
        i += 1
""")


@pytest.mark.slow
def test_kill_9_leaves_a_consistent_exchange(tmp_path: Path) -> None:
    db = tmp_path / "killed.db"
    epoch_ms = int(time.time() * 1000)
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(db), str(epoch_ms)], cwd=ROOT, stdout=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == b"ready"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:  # wait for real work, not for time
            if db.exists() and _count(db, "trades") >= 150:
                break
            time.sleep(0.05)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    symbols = [f"SYM{i}/USDT:USDT" for i in range(8)]
    src = GeneratorPriceSource(seed=9, epoch_ms=epoch_ms, speed=3600)
    # one frozen instant for the whole check: at speed 3600 a second of wall time is an hour
    # of market time, and a stop that triggers between reading the trades and reading the
    # positions (on a loaded machine) would look like an inconsistency the file does not have
    frozen = time.time()
    ex = PaperExchange(store_path=db, symbols=symbols, price_source=src, clock=lambda: frozen)
    try:
        trades = ex.fetch_my_trades()
        assert len(trades) >= 150
        net: dict[str, D] = defaultdict(D)
        for t in trades:
            net[t.symbol] += t.amount if t.side == "buy" else -t.amount
        positions = {p.symbol: p for p in ex.fetch_positions()}
        for symbol in symbols:
            held = positions.get(symbol)
            signed = D(0) if held is None else held.contracts * (1 if held.side == "long" else -1)
            assert signed == net[symbol]
        assert ex.wallet_balance() == D("10000") + ex.realized_pnl_total()
        ids = [s["clientOrderId"] for s in ex.submissions() if s["outcome"] == "accepted"]
        assert len(ids) == len(set(ids))
    finally:
        ex.close()


def _count(db: Path, table: str) -> int:
    conn = sqlite3.connect(db, timeout=5)
    try:
        return conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
    except sqlite3.OperationalError:
        return 0
    finally:
        conn.close()


def test_a_restart_counts_the_downtimes_loss_of_every_position_before_the_next_order(
    make_exchange, market
) -> None:
    """The free balance after a restart sums every position's unrealized P&L at the price of
    now, not at the price the store last saw before the downtime."""
    ex1 = make_exchange(starting_balance=D("1000"))  # leverage 5
    ex1.create_order(ETH, "market", "buy", D("0.3"))  # 900 USDT of notional: ~819 free
    ex1.close()
    market.move(ETH, "1000", step_s=600)  # the long loses 600 USDT while nobody is connected
    ex2 = make_exchange()
    with pytest.raises(errors.InsufficientFunds):  # ~602 USDT of margin, ~219 USDT free
        ex2.create_order(BTC, "market", "buy", D("0.05"))
    assert ex2.fetch_balance().funds("USDT").free < D("300")
