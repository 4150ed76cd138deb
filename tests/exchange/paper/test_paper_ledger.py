"""Ledger property: the exchange's balance change is exactly realized P&L minus fees."""

from __future__ import annotations

import tempfile
from collections import defaultdict
from decimal import Decimal as D
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from exchange import errors
from exchange.paper import GeneratorPriceSource, PaperExchange
from tests.exchange.paper.paper_support import BTC, DOGE, ETH, FakeClock

SYMBOLS = [BTC, ETH, DOGE]
STEPS = {BTC: D("0.001"), ETH: D("0.01"), DOGE: D("1")}

action = st.tuples(
    st.sampled_from(["market", "limit", "stop", "reduce", "cancel"]),
    st.sampled_from(SYMBOLS),
    st.sampled_from(["buy", "sell"]),
    st.integers(min_value=1, max_value=400),  # amount in steps
    st.integers(min_value=-300, max_value=300),  # price offset in bps for limit/stop
    st.floats(min_value=0, max_value=900),  # seconds until the next action
)


def _act(ex: PaperExchange, kind: str, symbol: str, side: str, steps: int, bps: int) -> None:
    amount = STEPS[symbol] * steps
    last = ex.fetch_tickers([symbol])[symbol].last
    price = ex.price_to_precision(symbol, last * (1 + D(bps) / 10000))
    if kind == "market":
        ex.create_order(symbol, "market", side, amount)
    elif kind == "limit":
        ex.create_order(symbol, "limit", side, amount, price)
    elif kind == "reduce":
        ex.create_order(symbol, "market", side, amount, params={"reduceOnly": True})
    elif kind == "stop":
        ex.create_order(symbol, "market", side, amount, params={"stopLossPrice": price})
    else:
        for order in ex.fetch_open_orders(symbol)[:1]:
            ex.cancel_order(order.id, symbol)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32), actions=st.lists(action, min_size=1, max_size=25))
def test_balance_change_equals_realized_minus_fees(seed: int, actions: list) -> None:
    clock = FakeClock()
    source = GeneratorPriceSource(seed=seed, epoch_ms=clock.ms, speed=600)
    with tempfile.TemporaryDirectory() as tmp:
        ex = PaperExchange(store_path=Path(tmp) / "l.db", symbols=SYMBOLS, price_source=source,
                           clock=clock, starting_balance=D("2000"))
        try:
            for kind, symbol, side, steps, bps, dt in actions:
                try:
                    _act(ex, kind, symbol, side, steps, bps)
                except (errors.InvalidOrder, errors.InsufficientFunds):
                    pass
                clock.advance(dt)
            _check_ledger(ex)
        finally:
            ex.close()


def _check_ledger(ex: PaperExchange) -> None:
    trades = ex.fetch_my_trades()
    realized = sum((t.realized_pnl for t in trades), D(0))
    fees = sum((t.fee.cost for t in trades), D(0))
    assert ex.wallet_balance() - D("2000") == realized - fees == ex.realized_pnl_total()
    net: dict[str, D] = defaultdict(D)
    for t in trades:
        net[t.symbol] += t.amount if t.side == "buy" else -t.amount
    positions = {p.symbol: p for p in ex.fetch_positions()}
    for symbol in SYMBOLS:
        p = positions.get(symbol)
        held = D(0) if p is None else p.contracts * (1 if p.side == "long" else -1)
        assert held == net[symbol]
    balance = ex.fetch_balance()
    unrealized = sum((p.unrealized_pnl for p in positions.values()), D(0))
    assert balance.funds("USDT").total == ex.wallet_balance() + unrealized
    for order in ex.fetch_open_orders():
        assert order.status == "open" and order.filled == 0
