"""Hundreds of actor threads at once: correctness under concurrency (timings printed only)."""

from __future__ import annotations

import threading
import time
from decimal import Decimal as D
from pathlib import Path

from exchange.paper import GeneratorPriceSource, PaperExchange
from tests.exchange.paper.paper_support import BTC, FakeClock


def _run_threads(count: int, target) -> float:
    barrier = threading.Barrier(count)
    errors: list[BaseException] = []

    def run(i: int) -> None:
        barrier.wait()
        try:
            target(i)
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    started = time.perf_counter()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    assert errors == []
    return elapsed


def _exchange(tmp_path: Path, symbols: list[str], latency: float) -> PaperExchange:
    clock = FakeClock()
    source = GeneratorPriceSource(seed=1, epoch_ms=clock.ms)
    # latency uses the real sleep: this is what overlapping threads must hide
    return PaperExchange(store_path=tmp_path / "c.db", symbols=symbols, price_source=source,
                         clock=clock, latency_s=latency, starting_balance=D("10000000"))


def _order_amount(ex: PaperExchange, symbol: str) -> D:
    price = ex.market(symbol).amount_step
    step_value = price * GeneratorPriceSource(seed=1, epoch_ms=0).initial_price(symbol)
    return price * (int(D(20) / step_value) + 1)  # about 20 USDT, on the grid


def test_200_threads_on_distinct_symbols(tmp_path: Path) -> None:
    symbols = [f"SYM{i}/USDT:USDT" for i in range(200)]
    ex = _exchange(tmp_path, symbols, latency=0.05)
    try:
        def place(i: int) -> None:
            symbol = symbols[i]
            ex.create_order(symbol, "market", "buy", _order_amount(ex, symbol),
                            params={"clientOrderId": f"c{i}"})

        elapsed = _run_threads(200, place)
        print(f"\n200 threads x 1 order, 50 ms latency: {elapsed:.3f} s (serial >= 10 s)")
        positions = {p.symbol for p in ex.fetch_positions()}
        assert positions == set(symbols)
        filled = {t.client_order_id: t.symbol for t in ex.fetch_my_trades()}
        assert filled == {f"c{i}": symbol for i, symbol in enumerate(symbols)}
        assert ex.fetch_order(None, symbols[7], {"clientOrderId": "c7"}).status == "closed"
        assert len(ex.submissions()) == 200
        assert ex.wallet_balance() == D("10000000") + ex.realized_pnl_total()
    finally:
        ex.close()


def test_500_threads_two_orders_each(tmp_path: Path) -> None:
    symbols = [f"SYM{i}/USDT:USDT" for i in range(500)]
    ex = _exchange(tmp_path, symbols, latency=0.05)
    try:
        def place(i: int) -> None:
            symbol = symbols[i]
            amount = _order_amount(ex, symbol)
            ex.create_order(symbol, "market", "buy", amount, params={"clientOrderId": f"a{i}"})
            ex.create_order(symbol, "market", "sell", amount,
                            params={"clientOrderId": f"b{i}", "reduceOnly": True})

        elapsed = _run_threads(500, place)
        print(f"\n500 threads x 2 orders, 50 ms latency: {elapsed:.3f} s (serial >= 50 s)")
        assert ex.fetch_positions() == []
        assert len(ex.fetch_my_trades()) == 1000
        ids = [s["clientOrderId"] for s in ex.submissions()]
        assert len(ids) == 1000 and len(set(ids)) == 1000
    finally:
        ex.close()


def test_many_threads_on_one_symbol_keep_the_ledger_exact(tmp_path: Path) -> None:
    ex = _exchange(tmp_path, [BTC], latency=0.0)
    try:
        def trade(i: int) -> None:
            for j in range(5):
                side = "buy" if (i + j) % 2 else "sell"
                ex.create_order(BTC, "market", side, D("0.001"), params={"clientOrderId": f"t{i}-{j}"})

        _run_threads(50, trade)
        trades = ex.fetch_my_trades()
        assert len(trades) == 250
        net = sum((t.amount if t.side == "buy" else -t.amount for t in trades), D(0))
        positions = ex.fetch_positions()
        held = D(0) if not positions else positions[0].contracts * (1 if positions[0].side == "long" else -1)
        assert held == net
        assert ex.wallet_balance() == D("10000000") + ex.realized_pnl_total()
    finally:
        ex.close()


def test_latency_sleep_happens_outside_locks(make_exchange) -> None:
    calls: list[float] = []
    inner_done: list[bool] = []

    def sleep(seconds: float) -> None:
        calls.append(seconds)
        if len(calls) == 1:  # while the first call "is on the wire", another thread trades
            t = threading.Thread(target=lambda: inner_done.append(
                ex.create_order(BTC, "market", "buy", D("0.001")).status == "closed"))
            t.start()
            t.join(timeout=10)

    ex = make_exchange(latency_s=0.05, sleep=sleep)
    ex.create_order(BTC, "market", "buy", D("0.001"))
    ex.fetch_balance()
    assert inner_done == [True]
    assert calls == [0.05, 0.05, 0.05]
