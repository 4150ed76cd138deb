"""Hedge mode in the paper store: reopening keeps the mode, switching is refused while anything
is open, a store from before position modes opens as one-way (split from test_hedge_mode.py)."""

from __future__ import annotations

import sqlite3
from decimal import Decimal as D

import pytest

from config.settings import Settings
from exchange import errors
from exchange.paper import PaperExchange
from exchange.paper.store import PositionModeMismatch
from runtime.exchanges import build_paper
from runtime.wiring import StartupError
from tests.exchange.paper.paper_support import BTC, ETH

LONG = {"positionIdx": 1}
SHORT = {"positionIdx": 2}


@pytest.fixture
def hx(make_exchange) -> PaperExchange:
    return make_exchange(hedge_mode=True)


def sides(ex: PaperExchange, symbol: str | None = None) -> dict[str, dict]:
    return {p.side: p for p in ex.fetch_positions([symbol] if symbol else None)}




def test_reopening_keeps_both_positions_orders_and_the_mode(make_exchange, market, tmp_path) -> None:
    ex1 = make_exchange(hedge_mode=True)
    ex1.create_order(BTC, "market", "buy", D("0.01"), params=LONG)
    ex1.create_order(BTC, "market", "sell", D("0.02"), params=SHORT)
    stop = ex1.create_order(BTC, "market", "sell", D("0.01"),
                            params={**LONG, "stopLossPrice": D("59000")})
    tp = ex1.create_order(BTC, "limit", "buy", D("0.02"), D("57000"), {**SHORT, "clientOrderId": "tp"})
    positions, balance = ex1.fetch_positions(), ex1.fetch_balance()
    ex1.close()
    with sqlite3.connect(tmp_path / "paper.db") as db:
        assert dict(db.execute("SELECT key, value FROM meta"))["position_mode"] == "hedge"
        rows = db.execute("SELECT side, qty FROM positions ORDER BY side").fetchall()
    assert rows == [("long", "0.01"), ("short", "-0.02")]

    ex2 = make_exchange(hedge_mode=True)
    assert ex2.fetch_positions() == positions and ex2.fetch_balance() == balance
    assert [(o.id, str(o.position_side.idx)) for o in ex2.fetch_open_orders()] == [
        (stop.id, "1"), (tp.id, "2")]
    # the market moved while nobody was connected: the long's stop fired, the short kept going
    market.move(BTC, "58900", "57500")
    [short] = ex2.fetch_positions()
    assert short.side == "short" and short.contracts == D("0.02")
    assert ex2.fetch_order(stop.id, BTC).status == "closed"
    assert ex2.fetch_order(None, BTC, {"clientOrderId": "tp"}).status == "open"
    ex2.close()
    market.move(BTC, "56900")  # while closed again: the short's take-profit fills
    ex3 = make_exchange(hedge_mode=True)
    assert ex3.fetch_order(None, BTC, {"clientOrderId": "tp"}).status == "closed"
    assert ex3.fetch_positions() == []


def test_reopening_in_the_other_mode_fails_while_anything_is_open(make_exchange) -> None:
    hedge = make_exchange(hedge_mode=True)
    hedge.create_order(BTC, "market", "buy", D("0.01"), params=LONG)
    hedge.close()
    with pytest.raises(PositionModeMismatch, match="is a hedge paper account with 1 open position"):
        make_exchange()
    reopened = make_exchange(hedge_mode=True)  # the failed open changed nothing
    assert sides(reopened)["long"].contracts == D("0.01")
    reopened.close()


def test_one_way_store_with_an_open_order_is_not_opened_in_hedge_mode(make_exchange) -> None:
    one_way = make_exchange()
    one_way.create_order(ETH, "limit", "buy", D("1"), D("2500"))
    one_way.close()
    with pytest.raises(PositionModeMismatch, match="one-way paper account .* 1 open order"):
        make_exchange(hedge_mode=True)


def test_a_flat_account_switches_mode_like_a_venue(make_exchange, tmp_path) -> None:
    one_way = make_exchange()
    one_way.create_order(ETH, "market", "buy", D("1"))
    one_way.create_order(ETH, "market", "sell", D("1"), params={"reduceOnly": True})
    wallet = one_way.wallet_balance()
    one_way.close()
    hedge = make_exchange(hedge_mode=True)
    assert hedge.wallet_balance() == wallet and hedge.fetch_positions() == []
    hedge.create_order(ETH, "market", "buy", D("1"), params=LONG)
    hedge.create_order(ETH, "market", "sell", D("1"), params=SHORT)
    assert sides(hedge).keys() == {"long", "short"}
    with sqlite3.connect(tmp_path / "paper.db") as db:
        assert dict(db.execute("SELECT key, value FROM meta"))["position_mode"] == "hedge"


def test_faults_keep_working_in_hedge_mode(hx: PaperExchange) -> None:
    hx.create_order(BTC, "market", "sell", D("0.02"), params=SHORT)
    hx.faults.fail_next("create_order", 1, errors.RequestTimeout("lost"), after_accept=True,
                        match=lambda call: call["params"].get("positionIdx") == 2)
    hx.faults.fail_next("create_order", 1, errors.NetworkError("reset"),
                        match=lambda call: call["params"].get("positionIdx") == 1)
    with pytest.raises(errors.NetworkError):
        hx.create_order(BTC, "market", "buy", D("0.01"), params={**LONG, "clientOrderId": "f1"})
    with pytest.raises(errors.RequestTimeout):
        hx.create_order(BTC, "market", "buy", D("0.01"), params={**SHORT, "clientOrderId": "f2"})
    assert sides(hx).keys() == {"short"} and sides(hx)["short"].contracts == D("0.01")
    found = hx.fetch_order(None, BTC, {"clientOrderId": "f2"})
    assert found.status == "closed" and found.position_side.idx == 2
    assert [(s["outcome"], s["info"]["positionIdx"]) for s in hx.submissions()[-2:]] == [
        ("fault", "1"), ("accepted", "2")]


def test_runtime_builds_the_paper_exchange_in_the_configured_mode(tmp_path, prices) -> None:
    def settings(hedge: bool) -> Settings:
        grid = {"strategy": {"name": "hedge_grid"}, "risk": {"stop_loss_pct": 5}} if hedge else {}
        return Settings.model_validate({
            "symbols": {"list": [BTC]}, "exchange": {"hedge_mode": hedge},
            "paper": {"store": "paper.db"}, **grid,
        })

    ex = build_paper(settings(True), tmp_path, price_source=prices)
    try:
        assert ex.hedge_mode is True
        ex.create_order(BTC, "market", "buy", D("0.01"), params=LONG)
    finally:
        ex.close()
    with pytest.raises(StartupError, match="hedge_mode = false: .*hedge paper account"):
        build_paper(settings(False), tmp_path, price_source=prices)


# ---- ledger property in hedge mode ---------------------------------------------------------

def test_a_store_from_before_position_modes_opens_as_one_way(make_exchange, tmp_path) -> None:
    old = make_exchange()
    old.create_order(BTC, "market", "buy", D("0.01"), params={"clientOrderId": "old"})
    positions = old.fetch_positions()
    old.close()
    with sqlite3.connect(tmp_path / "paper.db") as db:  # back to the layout before this change
        for table in ("orders", "trades", "submissions"):
            db.execute(f"ALTER TABLE {table} DROP COLUMN position_side")
        db.execute("DELETE FROM meta WHERE key = 'position_mode'")
    with pytest.raises(PositionModeMismatch, match="one-way paper account with 1 open position"):
        make_exchange(hedge_mode=True)
    reopened = make_exchange()
    assert reopened.fetch_positions() == positions
    assert reopened.fetch_order(None, BTC, {"clientOrderId": "old"}).position_side.idx == 0
    assert reopened.fetch_my_trades()[0].position_side == "net"
    assert reopened.submissions("old")[0]["info"] == {"positionIdx": None, "positionSide": None}
