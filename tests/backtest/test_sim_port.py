"""The simulated exchange implements the typed exchange port as the paper exchange does: the same
calls in the same state give equal records (`exchange/records.py`, built by the paper
exchange's own builders) and the same `exchange/errors.py` classes, in both position modes."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from backtest.sim_exchange import SimExchange, SimSettings
from exchange import errors
from exchange.paper.exchange import PaperExchange
from exchange.port import ExchangePort
from exchange.records import VenueMarket, VenueOrder, VenueOrderStatus
from tests.exchange.paper.paper_support import BTC, ETH, FakeClock, ScriptedPrices

INITIAL = {BTC: Decimal(50000), ETH: Decimal(3000)}
FEES = {"taker_fee": Decimal("0.00055"), "maker_fee": Decimal("0.0002"),
        "slippage_bps": Decimal(2)}


class Both:
    """The paper exchange and the simulated one, on the same prices at the same times."""

    def __init__(self, tmp: Path, hedge_mode: bool) -> None:
        self.clock = FakeClock()
        self.prices = ScriptedPrices(INITIAL)
        self.paper = PaperExchange(
            store_path=tmp / "paper.sqlite", symbols=list(INITIAL), price_source=self.prices,
            starting_balance=Decimal(10000), leverage=5, latency_s=0.0, clock=self.clock,
            hedge_mode=hedge_mode, **FEES)
        self.sim = SimExchange(SimSettings(starting_balance=Decimal(10000), leverage=5,
                                           hedge_mode=hedge_mode, **FEES), INITIAL)
        self.sim.at(self.clock.ms)

    def move(self, symbol: str, *path: str) -> None:
        """Each price one second after the last; both exchanges see every point."""
        for price in path:
            self.clock.advance(1.0)
            self.prices.add(symbol, self.clock.ms, price)
            self.sim.point(symbol, self.clock.ms, Decimal(price))

    def call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        """Call both; their answers (or refusals' classes) must be equal. Returns the answer."""
        answers = []
        for ex in (self.paper, self.sim):
            try:
                answers.append(getattr(ex, method)(*args, **kwargs))
            except errors.ExchangeError as exc:
                answers.append(type(exc))
        assert answers[0] == answers[1], f"{method}{args}: paper {answers[0]} sim {answers[1]}"
        return answers[0]

    def close(self) -> None:
        self.paper.close()


@pytest.fixture
def one_way(tmp_path: Path) -> Any:
    both = Both(tmp_path, hedge_mode=False)
    yield both
    both.close()


@pytest.fixture
def hedge(tmp_path: Path) -> Any:
    both = Both(tmp_path, hedge_mode=True)
    yield both
    both.close()


def _state(both: Both) -> None:
    """Every read of the port, on both."""
    both.call("fetch_open_orders")
    both.call("fetch_open_orders", BTC)
    both.call("fetch_positions")
    both.call("fetch_positions", [BTC, ETH])
    both.call("fetch_balance")
    both.call("fetch_tickers", [BTC, ETH])
    both.call("fetch_my_trades")
    both.call("fetch_my_trades", BTC, 0, 1)
    both.call("fetch_my_trades", None, None, 2)


def test_the_simulated_exchange_is_an_exchange_port(one_way: Both) -> None:
    assert isinstance(one_way.sim, ExchangePort)
    # in our process, as the paper exchange: a not-found is final at once (no send grace)
    assert one_way.sim.send_grace_s == one_way.paper.send_grace_s == 0.0
    market = one_way.call("market", BTC)
    assert isinstance(market, VenueMarket)
    assert (market.amount_step, market.price_tick) == (Decimal("0.001"), Decimal("0.1"))
    one_way.call("load_markets")
    assert one_way.call("amount_to_precision", BTC, Decimal("0.0129")) == Decimal("0.012")
    assert one_way.call("price_to_precision", BTC, Decimal("50000.06")) == Decimal("50000.1")


@pytest.mark.parametrize(("method", "value"), [
    ("amount_to_precision", "0.0004"), ("price_to_precision", "0.04"),
])
def test_a_value_that_rounds_to_nothing_is_refused_as_the_paper_exchange_refuses_it(
    one_way: Both, method: str, value: str,
) -> None:
    """The paper exchange (and ccxt, so the live gateway) answer InvalidOrder; a 0 returned
    would be an amount or price the backtest sends where paper and live never could."""
    assert one_way.call(method, BTC, Decimal(value)) is errors.InvalidOrder


def test_one_way_orders_fills_and_reads_give_the_paper_exchanges_records(one_way: Both) -> None:
    b = one_way
    entry = b.call("create_order", BTC, "market", "buy", Decimal("0.02"), None,
                   {"clientOrderId": "e1"})
    assert isinstance(entry, VenueOrder) and entry.status is VenueOrderStatus.CLOSED
    b.call("create_order", BTC, "market", "sell", Decimal("0.01"), None,
           {"clientOrderId": "s1", "stopLossPrice": Decimal(49500)})
    b.call("create_order", BTC, "limit", "sell", Decimal("0.01"), Decimal(50200),
           {"clientOrderId": "tp1", "reduceOnly": True})
    b.call("create_order", ETH, "limit", "buy", Decimal("0.5"), Decimal(2990),
           {"clientOrderId": "e2"})
    _state(b)
    b.move(BTC, "50100", "50250", "49400")  # the take-profit fills, then the stop
    b.move(ETH, "2985")
    _state(b)
    positions = b.call("fetch_positions")
    assert [(p.symbol, p.side, p.contracts) for p in positions] == [(ETH, "long", Decimal("0.5"))]
    trades = b.call("fetch_my_trades")
    assert len(trades) == 4
    # `since` is inclusive: a trade at exactly that millisecond is in the answer (the grid
    # asks from its last fill's time; a trade dropped there is a fill whose P&L it misses)
    last = trades[-1].timestamp
    assert [t.timestamp for t in b.call("fetch_my_trades", None, last)] == [last]
    assert len(b.call("fetch_my_trades", BTC, trades[0].timestamp)) == 3
    for cid in ("e1", "s1", "tp1", "e2"):
        b.call("fetch_order", None, BTC if cid != "e2" else ETH, {"clientOrderId": cid})
    b.call("fetch_order", "1", BTC)
    b.call("fetch_order", "4", BTC)  # an ETH order asked for under BTC: not found


def test_one_way_refusals_are_the_same_error_classes(one_way: Both) -> None:
    b = one_way
    b.call("create_order", BTC, "limit", "buy", Decimal("0.01"), Decimal(49000),
           {"clientOrderId": "r1"})
    refusals = [
        ("create_order", BTC, "limit", "buy", Decimal("0.01"), Decimal(49000),
         {"clientOrderId": "r1"}),  # duplicate client order id
        ("create_order", "XXX/USDT:USDT", "market", "buy", Decimal(1), None, {}),
        ("create_order", BTC, "market", "buy", Decimal("0.0105"), None, {}),  # off the step
        ("create_order", BTC, "market", "buy", Decimal(5), None, {}),  # 250,000 USDT
        ("create_order", BTC, "market", "sell", Decimal("0.01"), None, {"reduceOnly": True}),
        ("cancel_order", "99", BTC, None),
        ("cancel_order", None, BTC, None),
        ("fetch_order", None, BTC, None),
        ("fetch_order", None, BTC, {"clientOrderId": "nope"}),
        ("market", "XXX/USDT:USDT"),
    ]
    expected = [errors.InvalidOrder, errors.BadSymbol, errors.InvalidOrder,
                errors.InsufficientFunds, errors.InvalidOrder, errors.OrderNotFound,
                errors.BadRequest, errors.BadRequest, errors.OrderNotFound, errors.BadSymbol]
    assert [b.call(*r) for r in refusals] == expected
    canceled = b.call("cancel_order", None, BTC, {"clientOrderId": "r1"})
    assert canceled.status is VenueOrderStatus.CANCELED
    assert b.call("cancel_order", None, BTC, {"clientOrderId": "r1"}) is errors.OrderNotFound
    b.call("fetch_order", None, BTC, {"clientOrderId": "r1"})
    _state(b)


def test_hedge_mode_legs_give_the_paper_exchanges_records(hedge: Both) -> None:
    b = hedge
    b.call("create_order", BTC, "market", "buy", Decimal("0.02"), None,
           {"clientOrderId": "l1", "positionIdx": 1})
    b.call("create_order", BTC, "market", "sell", Decimal("0.01"), None,
           {"clientOrderId": "s1", "positionIdx": 2})
    b.call("create_order", BTC, "limit", "buy", Decimal("0.01"), Decimal(49800),
           {"clientOrderId": "s-tp", "positionIdx": 2})
    b.call("create_order", BTC, "market", "sell", Decimal("0.02"), None,
           {"clientOrderId": "l-stop", "positionIdx": 1, "stopLossPrice": Decimal(49600)})
    assert b.call("create_order", BTC, "market", "buy", Decimal("0.01"), None,
                  {"clientOrderId": "x"}) is errors.InvalidOrder  # no side named
    _state(b)
    b.move(BTC, "49900", "49700", "49500")
    _state(b)
    assert b.call("fetch_positions") == [] and b.call("fetch_open_orders") == []
    assert [f.position_side for f in b.call("fetch_my_trades")] == ["long", "short", "short",
                                                                   "long"]
    for cid in ("l1", "s1", "s-tp", "l-stop"):
        b.call("fetch_order", None, BTC, {"clientOrderId": cid})


def test_the_free_margin_counts_the_open_positions_unrealized_pnl(one_way: Both) -> None:
    """An entry is admitted against the wallet plus every open position's unrealized P&L minus
    the margin in use, as the paper exchange admits it: with another symbol's position at a
    loss an entry the wallet alone could carry is refused, and at a profit one it could not is
    admitted. Hand-checked: 0.9 BTC bought at 50,010 (2 bps slippage) holds 9,001.80 of
    initial margin at 5x and paid 24.76 of fee: 973.44 of the wallet is not in use; at 49,000
    the position is 909 down (64.44 free: 0.5 ETH needs 300.06 and its fee), at 51,000 891 up
    (1,864.44 free: 2 ETH needs 1,200.24 and its fee, more than the 973.44 alone)."""
    b = one_way
    b.call("create_order", BTC, "market", "buy", Decimal("0.9"), None, {"clientOrderId": "e1"})
    b.move(BTC, "49000")
    b.call("fetch_tickers", [BTC, ETH])  # the paper exchange marks its books when it reads
    eth = ("create_order", ETH, "market", "buy", Decimal("0.5"), None)  # 300 of margin
    assert b.call(*eth, {"clientOrderId": "e2"}) is errors.InsufficientFunds
    b.move(BTC, "51000")
    b.call("fetch_tickers", [BTC, ETH])
    eth = ("create_order", ETH, "market", "buy", Decimal(2), None)  # 1,200 of margin
    placed = b.call(*eth, {"clientOrderId": "e3"})
    assert placed.status is VenueOrderStatus.CLOSED, placed
    _state(b)
