"""The exchange port: the one interface trading code uses to talk to an exchange.

Its vocabulary is ccxt's unified API (method names, argument order, result dict keys), so a
real ccxt exchange (`exchange/ccxt/gateway.py`) and the paper exchange (`exchange/paper/`) both
sit behind it and trading code never asks which one it has.

One deliberate difference from raw ccxt: every numeric field in a result (prices, amounts,
costs, fees, balances, P&L) is a `decimal.Decimal`, never a float. The ccxt gateway converts at
the boundary (`Decimal(str(x))`); the paper exchange computes in Decimal throughout. Inputs
(amount, price, trigger prices in params) may be given as Decimal.

Errors are ccxt's exception classes (`ccxt.NetworkError`, `ccxt.RequestTimeout`,
`ccxt.InsufficientFunds`, `ccxt.InvalidOrder`, `ccxt.OrderNotFound`, `ccxt.BadSymbol`,
`ccxt.ExchangeNotAvailable`, ...), whichever exchange is behind the port.

Order params understood by every implementation:
  clientOrderId: str      our id, assigned and persisted before the call (<= 36 chars,
                          ^[.A-Z:/a-z0-9_-]{1,36}$)
  reduceOnly: bool        never increases the position
  stopLossPrice: Decimal  a reduce-only stop-market that triggers when price reaches it
                          against the position (sell stop below, buy stop above)
  triggerPrice: Decimal   a conditional order; with triggerDirection 'above' | 'below'
  positionIdx / positionSide   hedge mode only (see issue 7)

Order dicts carry at least: id, clientOrderId, timestamp, symbol, type, side, price, amount,
filled, remaining, status ('open' | 'closed' | 'canceled' | 'rejected' | 'expired'), average,
cost, fee {cost, currency}, reduceOnly, triggerPrice, stopLossPrice, info.
Trade dicts: id, order, clientOrderId, symbol, side, price, amount, cost, fee {cost, currency},
timestamp, takerOrMaker, info.
Position dicts: symbol, side ('long' | 'short'), contracts, contractSize, entryPrice, markPrice,
unrealizedPnl, notional, leverage, timestamp, info. Callers ignore positions with 0 contracts.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Protocol, runtime_checkable


@runtime_checkable
class ExchangePort(Protocol):
    """What the bot needs from an exchange, in ccxt's unified names."""

    id: str

    def load_markets(self, reload: bool = False) -> dict[str, dict[str, Any]]: ...

    def market(self, symbol: str) -> dict[str, Any]: ...

    def amount_to_precision(self, symbol: str, amount: Decimal) -> Decimal: ...

    def price_to_precision(self, symbol: str, price: Decimal) -> Decimal: ...

    def fetch_tickers(self, symbols: list[str] | None = None) -> dict[str, dict[str, Any]]: ...

    def create_order(
        self,
        symbol: str,
        type: str,  # noqa: A002 - ccxt's name
        side: str,
        amount: Decimal,
        price: Decimal | None = None,
        params: dict[str, Any] | None = None,
    ) -> dict[str, Any]: ...

    def cancel_order(
        self, id: str | None, symbol: str, params: dict[str, Any] | None = None  # noqa: A002
    ) -> dict[str, Any]: ...

    def fetch_order(
        self, id: str | None, symbol: str, params: dict[str, Any] | None = None  # noqa: A002
    ) -> dict[str, Any]: ...

    def fetch_open_orders(
        self,
        symbol: str | None = None,
        since: int | None = None,
        limit: int | None = None,
        params: dict[str, Any] | None = None,
    ) -> list[dict[str, Any]]: ...

    def fetch_positions(
        self, symbols: list[str] | None = None, params: dict[str, Any] | None = None
    ) -> list[dict[str, Any]]: ...

    def fetch_balance(self, params: dict[str, Any] | None = None) -> dict[str, Any]: ...

    def fetch_my_trades(
        self,
        symbol: str | None = None,
        since: int | None = None,
        limit: int | None = None,
        params: dict[str, Any] | None = None,
    ) -> list[dict[str, Any]]: ...

    def close(self) -> None: ...
