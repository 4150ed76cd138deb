"""The hedge grid's balance check before an order that grows a leg reads the free balance of
the coin the symbol settles in (found by review: it read USDT for every symbol, so on an
account of USDC-settled perpetuals, whose balance lists USDC, every open and every level was
refused as 'insufficient balance: free 0 USDT' and the grid never traded).

The grid executor with an exchange port injected through its constructor: a USDC account."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from loguru import logger

from actors.grid_executor import GridExecutor
from exchange.records import Funds, VenueBalance, VenueOrder
from trading.commands import PlaceOrder
from trading.model import Side
from trading.orders import Order, OrderPurpose

USDC_PERP = "BTC/USDC:USDC"


class UsdcAccount:
    def __init__(self, coin: str = "USDC") -> None:
        self.sent: list[str] = []
        self.coin = coin

    def fetch_balance(self, params: Any = None) -> VenueBalance:
        free = Decimal(5000)
        return VenueBalance(currencies={self.coin: Funds(free=free, used=Decimal(0), total=free)})

    def create_order(self, symbol, type_, side, amount, price=None, params=None):  # noqa: ANN001, ANN201
        self.sent.append(params["clientOrderId"])
        return VenueOrder(id="1", client_order_id=params["clientOrderId"], symbol=symbol,
                          side=side, type=type_, amount=amount, status="open")


def _open(port: UsdcAccount, margin: str) -> list[Any]:
    executor = GridExecutor(USDC_PERP, port, on_escalate=lambda s, e: None,  # type: ignore[arg-type]
                            log=logger)
    order = Order(client_order_id=f"acc-ab12-BTC-{len(port.sent) + 1}e",
                  purpose=OrderPurpose.ENTRY, side="buy", amount=Decimal("0.2"), leg=Side.LONG)
    return executor.execute_grid(PlaceOrder(order=order, margin=Decimal(margin)))


def test_a_usdc_grid_open_is_checked_against_the_usdc_balance() -> None:
    port = UsdcAccount()
    events = _open(port, "20.05")
    assert port.sent == ["acc-ab12-BTC-1e"], f"not sent: {events}"
    refused = _open(port, "6000")
    assert port.sent == ["acc-ab12-BTC-1e"]
    assert "insufficient balance: free 5000 USDC < 6000 needed" in refused[0].error


def test_a_balance_listing_no_settle_coin_leaves_the_order_to_the_venue() -> None:
    """The paper exchange keeps its wallet in USDT for every symbol (and a unified account may
    margin a USDC contract with USDT): no USDC listed is no refusal."""
    port = UsdcAccount(coin="USDT")
    _open(port, "20.05")
    assert port.sent == ["acc-ab12-BTC-1e"]
