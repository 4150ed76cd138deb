"""A hedge-mode leg closed on Bybit by no order of ours (a liquidation, auto-deleveraging, a
close by hand in the venue's UI). Bybit's executions (/v5/execution/list) carry no positionIdx,
so the port's fills have no position side there (exchange/port.py); the grid's reconciliation
dropped every fill without one, found nothing that closed the leg and kept it open in the books
for good ("LegCloseUnconfirmed", then an alert), while the venue held nothing. Real ccxt.bybit
through the gateway against the emulator (hedge mode), then the grid's snapshot and core."""

from __future__ import annotations

from decimal import Decimal as D

from actors import grid_snapshot
from tests.exchange.ccxt.ccxt_fixtures import PRICES, make_gateway
from tests.exchange.ccxt.emu_book import Book
from tests.exchange.ccxt.emu_bybit import BybitVenue
from tests.exchange.ccxt.emu_server import EmulatorServer
from tests.exchange.ccxt.test_bybit_liquidation import execution
from tests.trading.test_grid_core import rules
from trading.grid.core import GridCore
from trading.grid.model import GridState, Leg
from trading.model import Side

BTC = "BTC/USDT:USDT"


def test_a_long_leg_liquidated_on_bybit_is_booked_closed_from_its_execution(tmp_path):
    book = Book(PRICES)
    book.hedge = True
    venue = BybitVenue(book)
    emu = EmulatorServer(venue).start()
    try:
        gw = make_gateway("bybit", emu, tmp_path, hedge_mode=True)
        gw.load_markets()
        now = book.now_ms
        # the venue lists both legs flat; the long's liquidation is in its executions
        venue.forced.append(execution("bust-1", "BustTrade", "45000", now + 1_000, "-50"))
        state = GridState(symbol=BTC, long=Leg(
            side=Side.LONG, position_id="acc-BTC-1-e", contracts=D("0.01"),
            entry_price=D("50000"), opened_at=now / 1000 - 60, stop_price=D("47500")))
        seen = grid_snapshot.gather(gw, state)
        assert [(f.side, f.amount, f.position_side) for f in seen.external_fills] == [
            ("sell", D("0.01"), Side.LONG)]
        d = GridCore(rules(symbol=BTC)).decide(state, seen, now / 1000 + 2)
        assert not d.state.long.is_open
        closed = [j for j in d.journal if j.type == "LegClosed"]
        assert len(closed) == 1 and closed[0].data["reason"] == "closed_on_exchange"
        assert D(closed[0].data["realized_pnl"]) == D("-50")
        gw.close()
    finally:
        emu.stop()
