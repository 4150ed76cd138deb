"""What the exchange port returns: typed, immutable records with Decimal money.

Named `Venue*` so they never clash with trading's own records (`trading.events.ExchangeOrder`
is what *trading* believes about an order; a `VenueOrder` is what the venue said). The ccxt
gateway builds them in one place (`exchange/ccxt/convert.py`); the paper exchange builds them
from its own state (`exchange/paper/models.py`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from types import MappingProxyType

from exchange.errors import NetworkError

ZERO = Decimal(0)


class VenueOrderStatus(StrEnum):
    """ccxt's unified order statuses (the venue's word for where an order is)."""

    OPEN = "open"  # resting, or a stop waiting for its trigger
    CLOSED = "closed"  # done: filled (fully, or partly and then finished)
    CANCELED = "canceled"
    REJECTED = "rejected"
    EXPIRED = "expired"

    @property
    def is_open(self) -> bool:
        return self is VenueOrderStatus.OPEN


class PositionSide(StrEnum):
    """Which position an order, fill or position belongs to: the one net position of a
    one-way account, or one leg of a hedge-mode account."""

    NET = "net"  # one-way (Bybit positionIdx 0, Binance positionSide BOTH)
    LONG = "long"  # hedge mode long leg (positionIdx 1, positionSide LONG)
    SHORT = "short"  # hedge mode short leg (positionIdx 2, positionSide SHORT)

    @property
    def idx(self) -> int:
        """Bybit's positionIdx for this side."""
        return _IDX[self]

    @classmethod
    def from_idx(cls, idx: int) -> PositionSide:
        return _BY_IDX[idx]


_IDX = {PositionSide.NET: 0, PositionSide.LONG: 1, PositionSide.SHORT: 2}
_BY_IDX = {v: k for k, v in _IDX.items()}


@dataclass(frozen=True, slots=True, kw_only=True)
class Fee:
    cost: Decimal
    """What the venue charged (negative: a maker rebate)."""
    currency: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class VenueOrder:
    id: str | None
    """The venue's order id."""
    client_order_id: str | None
    """Our id, assigned before the call (None for orders nobody here placed)."""
    symbol: str
    side: str
    """'buy' | 'sell'."""
    type: str
    """'market' | 'limit'."""
    status: VenueOrderStatus
    amount: Decimal | None
    """None only when the venue did not say (a sparse answer it could not complete)."""
    filled: Decimal = ZERO
    average: Decimal | None = None
    """Average fill price (None until something filled)."""
    price: Decimal | None = None
    """Limit price (market orders: the average fill price where the venue reports one)."""
    trigger_price: Decimal | None = None
    """Stop / conditional trigger (None for a plain order)."""
    reduce_only: bool = False
    position_side: PositionSide | None = None
    """None when the venue did not say."""
    fee: Fee | None = None
    """None when the venue reported no fee for the order (Binance futures orders)."""
    timestamp: int | None = None
    """Creation time, ms since the epoch."""
    last_fill_at: int | None = None
    """When it last filled (or last changed, where the venue says only that), ms since the
    epoch; None when the venue did not say."""

    @property
    def is_stop(self) -> bool:
        return self.trigger_price is not None

    @property
    def remaining(self) -> Decimal:
        if not self.status.is_open or self.amount is None:
            return ZERO
        return self.amount - self.filled

    @property
    def fee_cost(self) -> Decimal:
        return self.fee.cost if self.fee is not None else ZERO


@dataclass(frozen=True, slots=True, kw_only=True)
class VenuePosition:
    symbol: str
    side: str
    """'long' | 'short'."""
    contracts: Decimal
    """Always > 0: the port lists only open positions."""
    entry_price: Decimal | None
    mark_price: Decimal | None = None
    unrealized_pnl: Decimal | None = None
    position_side: PositionSide = PositionSide.NET
    hedged: bool = False
    timestamp: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class VenueFill:
    id: str
    order_id: str | None
    client_order_id: str | None
    """Our id where the venue (or the gateway's memory of its own creates) knows it."""
    symbol: str
    side: str
    price: Decimal
    amount: Decimal
    fee: Fee | None = None
    realized_pnl: Decimal | None = None
    """Realized P&L of this fill where the venue reports it (fee not deducted)."""
    position_side: PositionSide | None = None
    taker_or_maker: str | None = None
    timestamp: int | None = None

    @property
    def fee_cost(self) -> Decimal:
        return self.fee.cost if self.fee is not None else ZERO


@dataclass(frozen=True, slots=True, kw_only=True)
class VenueFunding:
    """One funding payment on a perpetual position, as the venue listed it (Bybit: an
    execution of execType Funding; Binance: an income row of type FUNDING_FEE)."""

    id: str
    """The venue's id of the payment (Bybit execId, Binance tranId): unique per account."""
    symbol: str
    fee: Decimal
    """What the account paid, in the settle currency: positive paid, negative received (the
    sign of a fee, as a maker rebate is a negative fee)."""
    timestamp: int
    """When the venue settled it (ms)."""
    position_side: PositionSide | None = None
    """The position it was paid on where the venue tells it (Bybit: derived from the rate's
    and the fee's signs); None where it does not (Binance's income rows)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class VenueTicker:
    symbol: str
    last: Decimal | None
    bid: Decimal | None = None
    ask: Decimal | None = None
    base_volume: Decimal | None = None
    """24 h volume in the base currency (contracts)."""
    quote_volume: Decimal | None = None
    """24 h volume in the quote currency (USDT); what `strategy.min_volume` is compared with."""
    timestamp: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Funds:
    free: Decimal
    used: Decimal
    total: Decimal


@dataclass(frozen=True, slots=True, kw_only=True)
class VenueBalance:
    currencies: Mapping[str, Funds] = field(default_factory=lambda: MappingProxyType({}))
    unreadable: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    """Currency -> why its figures cannot be read (one stated as no finite number). Only a
    read of that currency fails: found by review, one such coin failed the whole balance read,
    the settle coin's included (as one "NaN" ticker row of an untraded market failed every
    REST price)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "currencies", MappingProxyType(dict(self.currencies)))
        object.__setattr__(self, "unreadable", MappingProxyType(dict(self.unreadable)))

    def listed(self, currency: str) -> Funds | None:
        """That currency's funds as the venue listed them (None: not listed); a currency whose
        figures cannot be read raises NetworkError, the unreadable answer it is for it."""
        if currency in self.unreadable:
            raise NetworkError(self.unreadable[currency])
        return self.currencies.get(currency)

    def funds(self, currency: str) -> Funds:
        """That currency's funds (all zero when the account holds none)."""
        return self.listed(currency) or Funds(free=ZERO, used=ZERO, total=ZERO)

    def free(self, currency: str) -> Decimal:
        return self.funds(currency).free


@dataclass(frozen=True, slots=True, kw_only=True)
class VenueMarket:
    """The trading rules of one market, as the bot needs them."""

    symbol: str
    amount_step: Decimal
    price_tick: Decimal
    min_amount: Decimal | None = None
    max_amount: Decimal | None = None
    min_cost: Decimal | None = None
    contract_size: Decimal = Decimal(1)
    linear: bool = False
    swap: bool = False
    settle: str | None = None
    maker_fee: Decimal | None = None
    taker_fee: Decimal | None = None
