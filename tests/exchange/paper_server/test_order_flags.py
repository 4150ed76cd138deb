"""Order flags the paper server cannot honour, or that are malformed, are refused with
retCode 10001 naming the field: never read as something else (a PostOnly order filled as a
taker, an IOC limit left resting, a garbled reduceOnly opening a position)."""

from __future__ import annotations

from decimal import Decimal as D
from pathlib import Path
from typing import Any

import pytest

from exchange.paper.exchange import PaperExchange
from exchange.paper_server.bybit_api import BybitApi
from tests.exchange.paper.paper_support import BTC, FakeClock, ScriptedPrices


def create(paper: PaperExchange, **fields: Any) -> dict[str, Any]:
    order = {"category": "linear", "symbol": "BTCUSDT", "side": "Buy", "orderType": "Limit",
             "qty": "0.01", "price": "70000", **fields}
    status, body = BybitApi(paper).route("POST", "/v5/order/create", order)
    assert status == 200 and isinstance(body, dict)
    return body


@pytest.mark.parametrize(("tif", "price"), [
    ("PostOnly", "70000"),  # would take liquidity: Bybit cancels it, never fills it as taker
    ("IOC", "50000"),  # cannot fill now: Bybit cancels it, never leaves it resting
    ("FOK", "50000"),
])
def test_a_limit_time_in_force_other_than_gtc_is_refused_untouched(
    paper: PaperExchange, tif: str, price: str,
) -> None:
    body = create(paper, timeInForce=tif, price=price)
    assert body["retCode"] == 10001 and "timeInForce" in body["retMsg"]
    assert tif in body["retMsg"]
    assert paper.fetch_my_trades(BTC) == [] and paper.fetch_open_orders(BTC) == []


@pytest.mark.parametrize("tif", ["GTC", "", None])
def test_gtc_or_no_time_in_force_is_accepted(paper: PaperExchange, tif: str | None) -> None:
    assert create(paper, timeInForce=tif, price="50000")["retCode"] == 0
    assert len(paper.fetch_open_orders(BTC)) == 1


@pytest.mark.parametrize("tif", ["IOC", "FOK", "GTC"])
def test_a_market_order_fills_whole_under_ioc_or_fok(paper: PaperExchange, tif: str) -> None:
    body = create(paper, orderType="Market", price=None, timeInForce=tif)
    assert body["retCode"] == 0
    assert sum(t.amount for t in paper.fetch_my_trades(BTC)) == D("0.01")


@pytest.mark.parametrize("flag", ["yes", 1, "1", "ture", [True]])
def test_a_malformed_reduce_only_is_refused_not_read_as_false(
    paper: PaperExchange, flag: Any,
) -> None:
    paper.create_order(BTC, "market", "buy", D("0.01"))
    body = create(paper, side="Sell", orderType="Market", price=None, qty="0.02",
                  reduceOnly=flag)
    assert body["retCode"] == 10001 and "reduceOnly" in body["retMsg"]
    assert [p.contracts for p in paper.fetch_positions([BTC])] == [D("0.01")]  # no flip


@pytest.mark.parametrize("flag", [True, "true", "TRUE"])
def test_reduce_only_true_caps_at_the_position(paper: PaperExchange, flag: Any) -> None:
    paper.create_order(BTC, "market", "buy", D("0.01"))
    body = create(paper, side="Sell", orderType="Market", price=None, qty="0.02",
                  reduceOnly=flag)
    assert body["retCode"] == 0
    assert paper.fetch_positions([BTC]) == []


@pytest.mark.parametrize("flag", [False, "false", None])
def test_reduce_only_false_opens(paper: PaperExchange, flag: Any) -> None:
    assert create(paper, orderType="Market", price=None, reduceOnly=flag)["retCode"] == 0
    assert [p.contracts for p in paper.fetch_positions([BTC])] == [D("0.01")]


@pytest.mark.parametrize("idx", [1.7, True, "1.0", 2.2])
def test_a_malformed_position_idx_is_refused_not_rounded(tmp_path: Path, idx: Any) -> None:
    hedge = PaperExchange(store_path=tmp_path / "h.sqlite", symbols=[BTC], hedge_mode=True,
                          price_source=ScriptedPrices({BTC: D(60000)}), clock=FakeClock())
    try:
        body = create(hedge, orderType="Market", price=None, positionIdx=idx)
        assert body["retCode"] != 0 and "positionIdx" in body["retMsg"]
        assert hedge.fetch_my_trades(BTC) == []
        assert create(hedge, orderType="Market", price=None, positionIdx=1)["retCode"] == 0
    finally:
        hedge.close()


@pytest.mark.parametrize("idx", [0, "0"])
def test_position_idx_zero_is_one_way(paper: PaperExchange, idx: Any) -> None:
    assert create(paper, orderType="Market", price=None, positionIdx=idx)["retCode"] == 0


@pytest.mark.parametrize(("field", "value"), [
    ("stopLoss", "50000"), ("takeProfit", "70000"), ("tpslMode", "Full"),
])
def test_position_tp_sl_fields_are_refused_never_dropped(
    paper: PaperExchange, field: str, value: str,
) -> None:
    """An entry with a position stop-loss (or take-profit) is refused: placed without it, the
    position it opens would stand unprotected while the client believes its stop is set."""
    body = create(paper, orderType="Market", price=None, **{field: value})
    assert body["retCode"] == 10001 and field in body["retMsg"]
    assert paper.fetch_positions([BTC]) == [] and paper.fetch_my_trades(BTC) == []
