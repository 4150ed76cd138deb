"""The dashboard's ledger views over a damaged ledger row (a torn or hand-edited `fills` row):
the protections skip such a row, say so once and count the rest (tests/protections/
test_guard_damage.py); the equity curve and the trades list must do the same, answering 200
with the figures the status shows, never a 500 with a traceback on stderr.

Found by review: one `realized_pnl` of `garbage` made `GET /api/equity` (and `/api/trades` for a
page holding its position) a 500 whose traceback aiohttp printed, so the page's equity chart and
recent trades went blank for good; a `NaN` one made the curve end at NaN while the status said
10 001.90."""

from __future__ import annotations

import json

import pytest
from loguru import logger

from dashboard.auth import Auth
from dashboard.server import DashboardServer
from dashboard.source import AccountHandle, DashboardSource
from supervision.status import write_status
from tests.dashboard.test_server import STATUS, TOKEN, call
from tests.protections.ledger_rig import BASE, BTC, ETH, T0, Ledger, protections


@pytest.mark.parametrize("damage", ["garbage", "NaN", "Infinity"])
def test_a_damaged_fill_row_is_skipped_by_the_equity_curve_and_trades_as_by_the_status(
        tmp_path, damage):
    ledger = Ledger(tmp_path)
    ledger.closed("p1", BTC, "take_profit", T0, pnl="3", fee="0.05")
    ledger.closed("p2", ETH, "stop_loss", T0 + 10, pnl="-1", fee="0.05")
    ledger.fills([("p2", ETH, T0 + 11, damage, "0.01")])  # a late fee row, torn
    guard = ledger.guard(protections(), T0 + 20)
    guard.tick(T0 + 20)
    equity = guard.status_fields(T0 + 20)["pnl"]["equity"]
    assert equity == "10001.90"
    write_status(tmp_path, json.loads(json.dumps(STATUS)))
    source = DashboardSource(data_dir=tmp_path, running=lambda: True, accounts=[AccountHandle(
        name="main", symbols=(BTC, ETH), repo=ledger.repo, capital=BASE,
        log_path=lambda s: tmp_path / "x.log")])
    server = DashboardServer(source=source, auth=Auth(token=TOKEN, host="127.0.0.1"),
                             logger=logger)
    server.start()
    try:
        code, body = call(server.url + "/api/equity")
        assert code == 200, body
        points = json.loads(body)["points"]
        assert points[-1]["equity"] == equity
        code, body = call(server.url + "/api/trades")
        assert code == 200, body
        trades = {t["position_id"]: t for t in json.loads(body)["trades"]}
        assert trades["p1"]["net_pnl"] == "2.95"
        assert trades["p2"]["net_pnl"] == "-1.05"
    finally:
        server.stop()
        ledger.close()
