"""State records of the paper exchange and the port records (`exchange/records.py`) they
are reported as."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from exchange.records import (
    Fee,
    PositionSide,
    VenueFill,
    VenueOrder,
    VenueOrderStatus,
    VenuePosition,
)

ZERO = Decimal(0)
SETTLE = "USDT"
NET = "net"  # position side key in one-way mode
LONG = "long"  # hedge mode: the long side (positionIdx 1, positionSide LONG)
SHORT = "short"  # hedge mode: the short side (positionIdx 2, positionSide SHORT)
ONE_WAY_SIDES = (NET,)
HEDGE_SIDES = (LONG, SHORT)
POSITION_IDX = {NET: "0", LONG: "1", SHORT: "2"}  # Bybit's positionIdx, as a string
POSITION_SIDE = {NET: "BOTH", LONG: "LONG", SHORT: "SHORT"}  # Binance's positionSide


def iso8601(ms: int | None) -> str | None:
    if ms is None:
        return None
    stamp = datetime.fromtimestamp(ms / 1000, tz=UTC)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


@dataclass
class OrderRec:
    seq: int
    id: str
    client_order_id: str | None
    symbol: str
    type: str  # 'market' | 'limit'
    side: str  # 'buy' | 'sell'
    amount: Decimal
    price: Decimal | None
    reduce_only: bool
    created_ms: int
    trigger_price: Decimal | None = None
    trigger_direction: str | None = None  # 'above' | 'below'
    stop_loss_price: Decimal | None = None
    status: str = "open"
    filled: Decimal = ZERO
    cost: Decimal = ZERO
    fee: Decimal = ZERO
    reserved: Decimal = ZERO  # margin held while resting
    triggered: bool = False
    updated_ms: int = 0
    last_trade_ms: int | None = None
    position_side: str = NET  # the position it acts on: 'net' | 'long' | 'short'

    @property
    def is_open(self) -> bool:
        return self.status == "open"

    @property
    def waiting_for_trigger(self) -> bool:
        return self.trigger_price is not None and not self.triggered

    @property
    def remaining(self) -> Decimal:
        return self.amount - self.filled

    @property
    def average(self) -> Decimal | None:
        return self.cost / self.filled if self.filled else None


@dataclass
class TradeRec:
    seq: int
    id: str
    order_id: str
    client_order_id: str | None
    symbol: str
    side: str
    price: Decimal
    amount: Decimal
    cost: Decimal
    fee: Decimal
    realized_pnl: Decimal
    taker_or_maker: str
    reduce_only: bool
    ts: int
    position_side: str = NET


@dataclass
class PositionRec:
    """One position, keyed by (symbol, side): side 'net' in one-way mode, 'long' / 'short' in
    hedge mode. `qty` is signed: > 0 long, < 0 short (a 'long' row is never < 0, a 'short'
    row never > 0)."""

    symbol: str
    side: str = NET
    qty: Decimal = ZERO
    entry: Decimal = ZERO
    updated_ms: int = 0

    @property
    def key(self) -> tuple[str, str]:
        return (self.symbol, self.side)


@dataclass
class Submission:
    ts: int
    client_order_id: str | None
    symbol: str
    type: str
    side: str
    amount: Any
    price: Any
    params: dict[str, Any] = field(default_factory=dict)
    outcome: str = "accepted"  # 'accepted' | 'rejected' | 'fault'
    order_id: str | None = None
    error: str | None = None
    position_side: str | None = None  # None: the request named no valid position side


def _fee(cost: Decimal) -> Fee:
    return Fee(cost=cost, currency=SETTLE)


def order_view(o: OrderRec) -> VenueOrder:
    return VenueOrder(
        id=o.id, client_order_id=o.client_order_id, symbol=o.symbol, side=o.side, type=o.type,
        status=VenueOrderStatus(o.status), amount=o.amount, filled=o.filled, average=o.average,
        price=o.price if o.type == "limit" else o.average, trigger_price=o.trigger_price,
        reduce_only=o.reduce_only, position_side=PositionSide(o.position_side), fee=_fee(o.fee),
        timestamp=o.created_ms, last_fill_at=o.last_trade_ms,
    )


def trade_view(t: TradeRec) -> VenueFill:
    return VenueFill(
        id=t.id, order_id=t.order_id, client_order_id=t.client_order_id, symbol=t.symbol,
        side=t.side, price=t.price, amount=t.amount, fee=_fee(t.fee),
        realized_pnl=t.realized_pnl, position_side=PositionSide(t.position_side),
        taker_or_maker=t.taker_or_maker, timestamp=t.ts,
    )


def position_view(p: PositionRec, mark: Decimal, ts: int) -> VenuePosition:
    side = p.side if p.side != NET else ("long" if p.qty > 0 else "short")
    return VenuePosition(
        symbol=p.symbol, side=side, contracts=abs(p.qty), entry_price=p.entry, mark_price=mark,
        unrealized_pnl=(mark - p.entry) * p.qty, position_side=PositionSide(p.side),
        hedged=p.side != NET, timestamp=ts,
    )
