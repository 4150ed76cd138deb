"""The implementations of the exchange port the contract suite runs against, each behind one
small harness: how to move its market, which position params its account mode needs, how to
make a create time out after the order landed, and which facts its venue reports.

  paper-one-way / paper-hedge  PaperExchange on a scripted price path and an injected clock
  bybit / binanceusdm          CcxtGateway over the REAL ccxt classes, pointed at the local
  (and their -hedge variants)  venue emulators (tests/exchange/ccxt/emu_*.py) on 127.0.0.1,
                               the account in one-way or hedge mode
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from exchange import errors
from exchange.ccxt.gateway import CcxtGateway
from exchange.paper import PaperExchange
from exchange.port import ExchangePort
from tests.exchange.ccxt.ccxt_fixtures import FakeTime, make_gateway, start_emulator
from tests.exchange.ccxt.emu_server import EmulatorServer
from tests.exchange.paper.paper_support import BTC, FakeClock, ScriptedPrices

NAMES = ["paper-one-way", "paper-hedge", "bybit", "bybit-hedge", "binanceusdm",
         "binanceusdm-hedge"]
CREATE_PATH = {"bybit": "/v5/order/create", "binanceusdm": "/fapi/v1/order"}
READ_PATH = {"bybit": "/v5/position/list", "binanceusdm": "/fapi/v3/positionRisk"}


@dataclass
class Venue:
    name: str
    port: ExchangePort
    hedge: bool
    order_fees: bool
    """The venue reports a fee on the order itself (Binance futures orders carry none)."""
    fill_pnl: bool
    """The venue reports realized P&L on each fill (Binance `realizedPnl`, Bybit `execPnl`)."""
    fill_sides: bool = True
    """Fills name their position side (Bybit executions do not: join them to their order)."""
    symbol: str = BTC
    too_much: Decimal = Decimal("5")
    """An amount whose margin no account here can cover."""

    def opening(self, side: str) -> dict[str, Any]:
        return {"positionIdx": 1 if side == "buy" else 2} if self.hedge else {}

    def closing(self, position_side: str) -> dict[str, Any]:
        leg = {"positionIdx": 1 if position_side == "long" else 2} if self.hedge else {}
        return {**leg, "reduceOnly": True}

    def price(self) -> Decimal:
        last = self.port.fetch_tickers([self.symbol])[self.symbol].last
        assert last is not None
        return last

    def move_to(self, price: Decimal) -> None:
        raise NotImplementedError

    def land_then_time_out(self) -> None:
        """The next create_order lands on the venue, but its answer is lost."""
        raise NotImplementedError

    def fail_reads(self) -> None:
        """The venue is unreachable for the next reads of positions."""
        raise NotImplementedError

    def close(self) -> None:
        self.port.close()


@dataclass
class PaperVenue(Venue):
    clock: FakeClock | None = None
    prices: ScriptedPrices | None = None

    def move_to(self, price: Decimal) -> None:
        assert self.clock is not None and self.prices is not None
        self.clock.advance(1)
        self.prices.add(self.symbol, self.clock.ms, price)

    def land_then_time_out(self) -> None:
        assert isinstance(self.port, PaperExchange)
        self.port.faults.fail_next("create_order", 1, errors.RequestTimeout("answer lost"),
                                   after_accept=True)

    def fail_reads(self) -> None:
        assert isinstance(self.port, PaperExchange)
        self.port.faults.fail_next("fetch_positions", 1, errors.NetworkError("connection reset"))


@dataclass
class EmulatedVenue(Venue):
    emu: EmulatorServer | None = None
    exchange_id: str = "bybit"

    def move_to(self, price: Decimal) -> None:
        assert self.emu is not None
        self.emu.venue.book.set_price(self.symbol.split("/")[0] + "USDT", price)

    def land_then_time_out(self) -> None:
        assert self.emu is not None
        self.emu.fail_next(CREATE_PATH[self.exchange_id], 1, hold="after")

    def fail_reads(self) -> None:
        assert self.emu is not None
        self.emu.fail_next(READ_PATH[self.exchange_id], 10, status=503,
                           body="Service Unavailable")

    def close(self) -> None:
        super().close()
        assert self.emu is not None
        self.emu.stop()


def build(name: str, tmp_path: Path) -> Venue:
    if name.startswith("paper"):
        clock = FakeClock()
        prices = ScriptedPrices({BTC: Decimal("60000")})
        hedge = name == "paper-hedge"
        port = PaperExchange(store_path=tmp_path / f"{name}.sqlite", symbols=[BTC],
                             price_source=prices, clock=clock, hedge_mode=hedge)
        return PaperVenue(name=name, port=port, hedge=hedge, order_fees=True, fill_pnl=True,
                          clock=clock, prices=prices)
    exchange_id, hedge = name.removesuffix("-hedge"), name.endswith("-hedge")
    emu = start_emulator(exchange_id)
    emu.venue.book.hedge = hedge  # the account's position mode, as set on the venue
    gateway: CcxtGateway = make_gateway(exchange_id, emu, tmp_path, fake=FakeTime(),
                                        hedge_mode=hedge)
    gateway.load_markets()
    binance = exchange_id == "binanceusdm"
    # Binance orders carry no fee; a create's answer comes back without one, the order's
    # lookup reads its trades for it (issue 12, trading/late_fees.py)
    return EmulatedVenue(name=name, port=gateway, hedge=hedge, order_fees=not binance,
                         fill_pnl=True, fill_sides=binance,
                         emu=emu,
                         exchange_id=exchange_id)
