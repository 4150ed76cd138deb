"""The backtester's simulated exchange acts on one price point's orders in the order the price
reaches them, as the paper exchange does (tests/exchange/paper/test_paper_path_order.py): a grid
level crossed before its leg's older stop fills first, and the stop then closes both. Mutation
audit of backtest/sim_exchange.py: `point` must hand the matcher the mark before the point (the
book's price is already the new one when the draft is made)."""

from __future__ import annotations

from decimal import Decimal as D
from pathlib import Path

from tests.backtest.test_sim_port import Both
from tests.exchange.paper.paper_support import BTC

LONG = {"positionIdx": 1}
SHORT = {"positionIdx": 2}


def _trades(both: Both) -> list[tuple[str | None, D]]:
    return [(t.client_order_id, t.amount) for t in both.call("fetch_my_trades", BTC)]


def test_a_level_crossed_before_the_older_stop_fills_first_in_the_backtest(
        tmp_path: Path) -> None:
    both = Both(tmp_path, hedge_mode=True)
    try:
        both.call("create_order", BTC, "market", "buy", D("0.01"), None,
                  {**LONG, "clientOrderId": "leg"})
        both.call("create_order", BTC, "market", "sell", D("0.03"), None, {
            **LONG, "clientOrderId": "stop", "reduceOnly": True, "stopLossPrice": D("49000")})
        both.call("create_order", BTC, "limit", "buy", D("0.02"), D("49500"),
                  {**LONG, "clientOrderId": "level"})
        both.move(BTC, "48900")  # one point past both: 49500 is reached first on the way down
        assert _trades(both) == [("leg", D("0.01")), ("level", D("0.02")), ("stop", D("0.03"))]
        assert both.call("fetch_positions") == []  # flat: no leg left without its stop
    finally:
        both.close()


def test_on_the_way_up_the_lower_order_acts_first_in_the_backtest(tmp_path: Path) -> None:
    both = Both(tmp_path, hedge_mode=True)
    try:
        both.call("create_order", BTC, "market", "sell", D("0.01"), None,
                  {**SHORT, "clientOrderId": "leg"})
        both.call("create_order", BTC, "market", "buy", D("0.03"), None, {
            **SHORT, "clientOrderId": "stop", "reduceOnly": True, "stopLossPrice": D("51000")})
        both.call("create_order", BTC, "limit", "sell", D("0.02"), D("50500"),
                  {**SHORT, "clientOrderId": "level"})
        both.move(BTC, "51100")
        assert [cid for cid, _ in _trades(both)] == ["leg", "level", "stop"]
        assert both.call("fetch_positions") == []
    finally:
        both.close()
