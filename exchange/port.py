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
  positionIdx: 0|1|2      the position the order acts on (Bybit's spelling): 0 one-way,
                          1 the long side, 2 the short side (int or digit string)
  positionSide: str       the same in Binance's spelling, any case: 'BOTH' | 'LONG' | 'SHORT'

Position modes (the exchange's account setting: `hedge_mode` on PaperExchange and CcxtGateway,
`exchange.hedge_mode` in the config):
  One-way (default): one net position per symbol. positionIdx / positionSide may be omitted,
    or be 0 / 'BOTH'. 1 / 2 / 'LONG' / 'SHORT' -> ccxt.InvalidOrder
    "... position idx not match position mode ...".
  Hedge: a long and a short position per symbol, open at the same time, each with its own
    average entry price, margin, unrealized and realized P&L. EVERY create_order must name its
    side: positionIdx 1 | 2 or positionSide 'LONG' | 'SHORT' (if both are given they must
    agree, else InvalidOrder "... disagree"). Missing, 0 or 'BOTH' -> ccxt.InvalidOrder naming
    positionIdx / positionSide ("position idx not match position mode"). (The paper exchange
    also accepts ccxt's unified `hedged: True`, side derived as ccxt does: a buy -> long, a
    sell -> short, inverted when reduceOnly / stopLossPrice. The ccxt gateway in hedge mode
    adds `hedged: True` itself when no side is given. Trading code should always pass an
    explicit side.)
      buy  + long  / sell + short  open or add to that side (averaging the entry price).
      sell + long  / buy  + short  close: ONLY reduce that side, with or without reduceOnly
        (the paper order reports reduceOnly True). It is exempt from the minimum order value
        (paper, and the gateway's pre-check), needs
        that side to be nonzero when placed (else InvalidOrder "... the long position is
        zero"), and an amount larger than the side is cut to the side's size when it fills.
      reduceOnly=True or stopLossPrice on an opening combination -> InvalidOrder
        ("reduce-only buy would increase the long position", or "... the long position is
        zero" when that side is empty): a long's stop is a SELL with positionIdx 1.
    Stops and resting orders work per side: a long-side stopLossPrice sell fires when the
    price falls to it and only reduces the long; a short-side limit buy (take-profit) rests,
    fills as maker when the price falls to it and only reduces the short; a triggerPrice
    order with an opening combination is a conditional entry on that side. A closing order
    whose side is 0 when it would fill (trigger or cross) is canceled, not filled (status
    'canceled', no trade), as reduce-only orders are in one-way mode. Other-side orders are
    untouched. Resting opening limit orders reserve margin; closing ones reserve none.
  Paper: the mode is stored in the paper store; reopening it in the other mode raises
    `exchange.paper.store.PositionModeMismatch` while any position or open order exists
    (a flat account with no open orders switches, like a venue). ccxt gateway: an explicit
    side is sent as Bybit positionIdx / Binance positionSide (Binance hedge mode: reduceOnly
    dropped, the side already closes); a side that contradicts the configured mode is refused
    with InvalidOrder before sending.

Order dicts carry at least: id, clientOrderId, timestamp, symbol, type, side, price, amount,
filled, remaining, status ('open' | 'closed' | 'canceled' | 'rejected' | 'expired'), average,
cost, fee {cost, currency}, reduceOnly, triggerPrice, stopLossPrice, info.
Trade dicts: id, order, clientOrderId, symbol, side, price, amount, cost, fee {cost, currency},
timestamp, takerOrMaker, info.
Position dicts: symbol, side ('long' | 'short'), contracts, contractSize, entryPrice, markPrice,
unrealizedPnl, notional, leverage, hedged, timestamp, info. Callers ignore positions with 0
contracts.

Position side in results (attribute fills to a side by info.positionIdx):
  Position: hedge mode -> one dict per side with nonzero contracts (paper: per symbol the
    long first, then the short), side 'long' | 'short', hedged True, info {positionIdx '1' |
    '2', positionSide 'LONG' | 'SHORT', side 'Buy' | 'Sell'}; one-way -> hedged False, info
    {positionIdx '0', positionSide 'BOTH', side 'Buy' | 'Sell'} (paper; a real venue's info
    is its raw position row, which for Bybit has positionIdx and for Binance positionSide).
  Order (create_order, fetch_order, fetch_open_orders): paper info.positionIdx '0' | '1' |
    '2' and info.positionSide 'BOTH' | 'LONG' | 'SHORT'. Real venues: Bybit info.positionIdx
    (int), Binance info.positionSide.
  Trade (fetch_my_trades): paper hedge mode info.positionIdx '1' | '2' and info.positionSide
    next to info.realizedPnl (that fill's realized P&L, fee not deducted) and info.reduceOnly;
    one-way trades carry no positionIdx (read a missing one as '0'). Real venues: Binance
    trades have info.positionSide; Bybit executions carry no side, so join a fill to its
    order (trade['order'] / clientOrderId) and read the order's side.
  Paper submissions(): info {positionIdx, positionSide} of the side the request named (None
    when it named no valid one); PaperExchange.realized_pnl_total(symbol, position_side)
    sums realized P&L minus fees for 'long' / 'short' ('net' in one-way), exact Decimal.
  Balance: used margin counts both sides' positions (and margin reserved by resting opening
    orders); total includes both sides' unrealized P&L.
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
