"""The exchange port: the one interface trading code uses to talk to an exchange.

Method names and argument order are ccxt's unified API, so a real ccxt exchange
(`exchange/ccxt/gateway.py`) and the paper exchange (`exchange/paper/`) both sit behind it and
trading code never asks which one it has. What comes back is the project's own:

  Results are typed records (`exchange/records.py`): VenueOrder, VenuePosition, VenueFill,
  VenueTicker, VenueBalance, VenueMarket. Every money field is a `decimal.Decimal`. The ccxt
  gateway builds them in one place (`exchange/ccxt/convert.py`); the paper exchange builds
  them from its own state. Nobody outside `exchange/` reads a venue's raw answer.
  Errors are the project's own classes (`exchange/errors.py`): TemporaryError (NetworkError,
  RequestTimeout, RateLimited, ExchangeUnavailable) vs PermanentError (InsufficientFunds,
  InvalidOrder, OrderNotFound, BadSymbol, AuthenticationError, NotSupported, BadRequest),
  plus OrderOutcomeUnknown. ccxt's exceptions never leave `exchange/ccxt/`.
  Inputs (amount, price, trigger prices in params) may be given as Decimal.

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
    or be 0 / 'BOTH'. 1 / 2 / 'LONG' / 'SHORT' -> InvalidOrder
    "... position idx not match position mode ...".
  Hedge: a long and a short position per symbol, open at the same time, each with its own
    average entry price, margin, unrealized and realized P&L. EVERY create_order must name its
    side: positionIdx 1 | 2 or positionSide 'LONG' | 'SHORT' (if both are given they must
    agree, else InvalidOrder "... disagree"). Missing, 0 or 'BOTH' -> InvalidOrder naming
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

fetch_positions lists open positions only (contracts > 0).

Position side in results (`position_side`: PositionSide.NET | LONG | SHORT):
  VenuePosition: hedge mode -> one record per side with nonzero contracts (paper: per symbol
    the long first, then the short), side 'long' | 'short', hedged True; one-way -> NET.
  VenueOrder: the side the order acts on (None where a venue does not say).
  VenueFill: paper and Binance report it; Bybit executions carry no side (None), so join a
    fill to its order (order_id / client_order_id) and read the order's side. realized_pnl
    is that fill's realized P&L (fee not deducted) where the venue reports it.
  Paper submissions(): info {positionIdx, positionSide} of the side the request named (None
    when it named no valid one); PaperExchange.realized_pnl_total(symbol, position_side)
    sums realized P&L minus fees for 'long' / 'short' ('net' in one-way), exact Decimal.
  VenueBalance: used margin counts both sides' positions (and margin reserved by resting
    opening orders); total includes both sides' unrealized P&L.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Protocol, runtime_checkable

from exchange.records import (
    VenueBalance,
    VenueFill,
    VenueFunding,
    VenueMarket,
    VenueOrder,
    VenuePosition,
    VenueTicker,
)


@runtime_checkable
class ExchangePort(Protocol):
    """What the bot needs from an exchange: ccxt's unified names, the project's records."""

    id: str
    send_grace_s: float
    """How long after an order of ours was sent a lookup by client order id that does not find
    it is not yet proof that it never got there (trading/order_evidence.py, the core's
    `Rules.send_grace_s`, set from this by runtime/wiring.py). A venue reached over the network
    (the ccxt gateway: live venues, and the shared paper server of cluster nodes): 60 s, since
    a send that timed out may have landed while the venue's lookup lags. An exchange inside our
    process (PaperExchange, the backtest's SimExchange): 0, its create synchronous and its
    lookup consistent at once, so a not-found is final (after a kill -9 nothing lands late)."""

    def load_markets(self, reload: bool = False) -> dict[str, VenueMarket]: ...

    def market(self, symbol: str) -> VenueMarket: ...

    def amount_to_precision(self, symbol: str, amount: Decimal) -> Decimal: ...

    def price_to_precision(self, symbol: str, price: Decimal) -> Decimal: ...

    def fetch_tickers(self, symbols: list[str] | None = None) -> dict[str, VenueTicker]: ...

    def create_order(
        self,
        symbol: str,
        type: str,
        side: str,
        amount: Decimal,
        price: Decimal | None = None,
        params: dict[str, Any] | None = None,
    ) -> VenueOrder: ...

    def cancel_order(
        self, id: str | None, symbol: str, params: dict[str, Any] | None = None
    ) -> VenueOrder: ...

    def fetch_order(
        self, id: str | None, symbol: str, params: dict[str, Any] | None = None
    ) -> VenueOrder: ...

    def fetch_open_orders(
        self,
        symbol: str | None = None,
        since: int | None = None,
        limit: int | None = None,
        params: dict[str, Any] | None = None,
    ) -> list[VenueOrder]: ...

    def fetch_positions(
        self, symbols: list[str] | None = None, params: dict[str, Any] | None = None
    ) -> list[VenuePosition]: ...

    def fetch_balance(self, params: dict[str, Any] | None = None) -> VenueBalance: ...

    def fetch_my_trades(
        self,
        symbol: str | None = None,
        since: int | None = None,
        limit: int | None = None,
        params: dict[str, Any] | None = None,
    ) -> list[VenueFill]: ...

    def fetch_funding_history(
        self, symbol: str | None = None, since: int | None = None, limit: int | None = None
    ) -> list[VenueFunding]:
        """Funding payments on the account's perpetual positions since `since` (ms), oldest
        first (`VenueFunding.fee`: positive paid, negative received). ccxt: Bybit's funding
        executions, Binance's FUNDING_FEE income; the paper exchange and the backtest charge
        no funding and answer []."""
        ...

    def set_leverage(self, leverage: int, symbol: str) -> None:
        """Set `symbol`'s leverage on the venue to `leverage` (ccxt's unified `set_leverage`;
        in hedge mode both sides'). Returns once the venue holds that value: an answer that it
        already did (Bybit retCode 110043 "leverage not modified") is success. A refusal (a
        leverage above the symbol's maximum: Bybit 10001, Binance -4028) is a PermanentError.
        The paper exchange and the backtest record it (their margin is `risk.leverage`)."""
        ...

    def close(self) -> None: ...
