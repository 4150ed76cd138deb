"""Every money figure the dashboard's API, the journal and the status dump show is plain digits:
an equity or a net P&L of exactly zero booked to 8 places is "0.00000000", never Decimal's
"0E-8"; a short at its entry price has an unrealized P&L of "0.0000", not "-0.0000"; a
capital written as 1E+4 is "10000"; a fee split over part fills is shown to the 8 places the
status shows, not 28 (real server on 127.0.0.1, real SQLite ledger).

Found by review: `/api/equity` answered `"equity": "0E-8"` for an account whose losses ate its
capital to the cent, `/api/trades` `"net_pnl": "0E-8"` for a trade that won its fees back, and
the journal's PositionClosed the same (the page rounds them, a program reading the API does
not)."""

from __future__ import annotations

import json
import re
from decimal import Decimal as D

from loguru import logger

from actors.actor_view import view_of
from dashboard.auth import Auth
from dashboard.server import DashboardServer
from dashboard.source import AccountHandle, DashboardSource
from supervision.status import write_status
from tests.dashboard.test_server import STATUS, TOKEN, call
from tests.protections.ledger_rig import BTC, ETH, T0, Ledger
from trading.journal_events import PositionClosed
from trading.model import Phase, Position, Side, SymbolState

PLAIN = re.compile(r"^-?\d+(\.\d+)?$")


def test_the_api_shows_zero_equity_and_zero_net_in_plain_digits(tmp_path):
    ledger = Ledger(tmp_path)
    ledger.closed("p1", BTC, "take_profit", T0, pnl="0.05000000", fee="0.05")  # net 0
    ledger.closed("p2", ETH, "stop_loss", T0 + 10, pnl="-9999.95",
                  fee="0.0500000000000000000000000001")  # equity 0 to the cent
    write_status(tmp_path, json.loads(json.dumps(STATUS)))
    source = DashboardSource(data_dir=tmp_path, running=lambda: True, accounts=[AccountHandle(
        name="main", symbols=(BTC, ETH), repo=ledger.repo, capital=D("1E+4"),
        log_path=lambda s: tmp_path / "x.log")])
    server = DashboardServer(source=source, auth=Auth(token=TOKEN, host="127.0.0.1"),
                             logger=logger)
    server.start()
    try:
        code, body = call(server.url + "/api/equity")
        assert code == 200, body
        curve = json.loads(body)
        assert curve["capital"] == "10000", curve
        assert [p["equity"] for p in curve["points"]] == ["10000.00000000", "0.00000000"]
        code, body = call(server.url + "/api/trades")
        assert code == 200, body
        trades = {t["position_id"]: t for t in json.loads(body)["trades"]}
        assert trades["p1"]["net_pnl"] == "0.00000000", trades["p1"]
        assert trades["p2"]["fees"] == "0.05000000", trades["p2"]
        for trade in trades.values():
            for key in ("realized_pnl", "fees", "net_pnl"):
                assert PLAIN.match(trade[key]), (key, trade[key])
    finally:
        server.stop()
        ledger.close()


def test_the_journal_records_a_zero_net_in_plain_digits():
    closed = PositionClosed(position_id="p1", side=Side.LONG, reason="take_profit",
                            realized_pnl=D("0.05000000"), fees=D("0.05"),
                            net_pnl=D("0.05000000") - D("0.05"))
    assert closed.data["net_pnl"] == "0.00000000", closed.data


def test_a_short_at_its_entry_price_has_an_unsigned_zero_unrealized_pnl():
    state = SymbolState(symbol=BTC, phase=Phase.OPEN, last_price=D("100.0"), position=Position(
        position_id="p1", side=Side.SHORT, contracts=D("0.5"), entry_price=D("100"),
        opened_at=T0))
    position = view_of(state, None, reconciled=True).position
    assert position is not None
    assert position["unrealized_pnl"] == "0.0000", position
