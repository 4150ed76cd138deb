"""State records of the paper exchange and their ccxt-shaped views."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

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
    stamp = datetime.fromtimestamp(ms / 1000, tz=timezone.utc)
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


def fee_dict(cost: Decimal) -> dict[str, Any]:
    return {"cost": cost, "currency": SETTLE}


def order_view(o: OrderRec) -> dict[str, Any]:
    price = o.price if o.type == "limit" else o.average
    trigger = o.trigger_price
    return {
        "id": o.id,
        "clientOrderId": o.client_order_id,
        "timestamp": o.created_ms,
        "datetime": iso8601(o.created_ms),
        "lastTradeTimestamp": o.last_trade_ms,
        "lastUpdateTimestamp": o.updated_ms,
        "symbol": o.symbol,
        "type": o.type,
        "timeInForce": "GTC" if o.type == "limit" else "IOC",
        "postOnly": False,
        "side": o.side,
        "price": price,
        "amount": o.amount,
        "filled": o.filled,
        "remaining": o.remaining if o.is_open else ZERO,
        "status": o.status,
        "average": o.average,
        "cost": o.cost,
        "fee": fee_dict(o.fee),
        "fees": [fee_dict(o.fee)],
        "trades": [],
        "reduceOnly": o.reduce_only,
        "triggerPrice": trigger,
        "stopPrice": trigger,
        "stopLossPrice": o.stop_loss_price,
        "takeProfitPrice": None,
        "info": {
            "triggerDirection": o.trigger_direction, "triggered": o.triggered,
            "positionIdx": POSITION_IDX[o.position_side],
            "positionSide": POSITION_SIDE[o.position_side],
        },
    }


def trade_view(t: TradeRec) -> dict[str, Any]:
    return {
        "id": t.id,
        "order": t.order_id,
        "clientOrderId": t.client_order_id,
        "timestamp": t.ts,
        "datetime": iso8601(t.ts),
        "symbol": t.symbol,
        "type": None,
        "side": t.side,
        "price": t.price,
        "amount": t.amount,
        "cost": t.cost,
        "fee": fee_dict(t.fee),
        "fees": [fee_dict(t.fee)],
        "takerOrMaker": t.taker_or_maker,
        "info": _trade_info(t),
    }


def _trade_info(t: TradeRec) -> dict[str, Any]:
    info: dict[str, Any] = {"realizedPnl": t.realized_pnl, "reduceOnly": t.reduce_only}
    if t.position_side != NET:  # hedge mode: which side the fill acted on
        info["positionIdx"] = POSITION_IDX[t.position_side]
        info["positionSide"] = POSITION_SIDE[t.position_side]
    return info


def position_view(p: PositionRec, mark: Decimal, leverage: int, ts: int) -> dict[str, Any]:
    contracts = abs(p.qty)
    notional = contracts * mark
    unrealized = (mark - p.entry) * p.qty
    margin = contracts * p.entry / leverage
    side = p.side if p.side != NET else ("long" if p.qty > 0 else "short")
    return {
        "info": {
            "positionIdx": POSITION_IDX[p.side],
            "positionSide": POSITION_SIDE[p.side],
            "side": "Buy" if side == "long" else "Sell",
        },
        "id": None,
        "symbol": p.symbol,
        "side": side,
        "contracts": contracts,
        "contractSize": Decimal(1),
        "entryPrice": p.entry,
        "markPrice": mark,
        "lastPrice": mark,
        "notional": notional,
        "leverage": Decimal(leverage),
        "unrealizedPnl": unrealized,
        "initialMargin": margin,
        "collateral": margin,
        "marginMode": "cross",
        "hedged": p.side != NET,
        "liquidationPrice": None,
        "percentage": (unrealized / margin * 100) if margin else ZERO,
        "timestamp": ts,
        "datetime": iso8601(ts),
    }
