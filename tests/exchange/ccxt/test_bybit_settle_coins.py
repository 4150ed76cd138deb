"""Bybit's all-symbol reads (GET /v5/position/list, /v5/order/realtime without a symbol) cover
one settle coin, and ccxt 4.5.90's bybit asks for USDT unless told. A USDC-settled perpetual
(which the config accepts) was never seen by the account's sweep: its position read as flat,
so a held one got a Reconcile every sweep, and an order nobody owns on it was never found.
The gateway now reads once per settle coin of the configured symbols. Real ccxt.bybit against
the emulator, which answers one settle coin per listing as the venue does."""

from __future__ import annotations

from decimal import Decimal
from types import SimpleNamespace

from loguru import logger

from actors.exchange_sweep import ExchangeSweep
from tests.exchange.ccxt.ccxt_fixtures import PRICES, make_gateway
from tests.exchange.ccxt.emu_book import Book
from tests.exchange.ccxt.emu_bybit import INSTRUMENTS, USDC_PERP, BybitVenue
from tests.exchange.ccxt.emu_server import EmulatorServer
from trading.model import Side

BTC, BTCC = "BTC/USDT:USDT", "BTC/USDC:USDC"
D = Decimal


def test_the_all_symbol_reads_cover_every_settle_coin_of_the_symbols(tmp_path) -> None:  # noqa: ANN001
    book = Book({**PRICES, "BTCPERP": D("50000")})
    emu = EmulatorServer(BybitVenue(book, [*INSTRUMENTS, USDC_PERP])).start()
    gw = make_gateway("bybit", emu, tmp_path, symbols=[BTC, BTCC])
    try:
        book.positions[("BTCUSDT", "net")] = (D("0.01"), D("50000"))
        book.positions[("BTCPERP", "net")] = (D("0.02"), D("50000"))
        gw.create_order(BTC, "limit", "buy", D("0.001"), D("30000"), {"clientOrderId": "ours-t"})
        gw.create_order(BTCC, "limit", "buy", D("0.001"), D("30000"), {"clientOrderId": "hand-c"})

        held = {(p.symbol, p.contracts) for p in gw.fetch_positions(None)}
        assert held == {(BTC, D("0.01")), (BTCC, D("0.02"))}
        assert {o.client_order_id for o in gw.fetch_open_orders(None)} == {"ours-t", "hand-c"}

        def view(contracts: str, *cids: str) -> SimpleNamespace:
            return SimpleNamespace(state=SimpleNamespace(
                position=SimpleNamespace(side=Side.LONG, contracts=D(contracts)),
                orders=tuple(SimpleNamespace(client_order_id=c) for c in cids)))

        told: list[str] = []
        sweep = ExchangeSweep(exchange=gw, symbols=[BTC, BTCC],
                              views={BTC: view("0.01", "ours-t"), BTCC: view("0.02")},
                              logger=logger, deliver=lambda s, m: told.append(s) or True)
        assert sweep.sweep_once() == 1 and told == [BTCC]  # its unowned order, not its position
    finally:
        emu.stop()
