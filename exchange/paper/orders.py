"""Validation of create_order requests, with the messages a real venue would give."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from exchange import decimals, errors
from exchange.paper.markets import MIN_COST, amount_step, is_multiple, price_tick
from exchange.paper.models import LONG, NET, SHORT

CLIENT_ID_PATTERN = re.compile(r"^[.A-Z:/a-z0-9_-]{1,36}$")
DIRECTIONS = {
    "above": "above", "ascending": "above", "up": "above", "1": "above",
    "below": "below", "descending": "below", "down": "below", "2": "below",
}
IDX_SIDES = {0: NET, 1: LONG, 2: SHORT}  # Bybit positionIdx
NAMED_SIDES = {"BOTH": NET, "LONG": LONG, "SHORT": SHORT}  # Binance positionSide
MODE_MISMATCH = "position idx not match position mode"  # Bybit's words (retCode 10001)


@dataclass
class OrderRequest:
    symbol: str
    type: str
    side: str
    amount: Decimal
    price: Decimal | None
    client_id: str | None
    reduce_only: bool
    trigger_price: Decimal | None
    trigger_direction: str | None
    stop_loss_price: Decimal | None
    position_side: str = NET  # 'net' (one-way) | 'long' | 'short' (hedge mode)


def positive_decimal(value: Any, what: str, symbol: str) -> Decimal:
    try:
        result = decimals.to_decimal(value)
    except ValueError:
        raise errors.InvalidOrder(
            f"paper: {symbol} {what} must be a number, got {value!r}") from None
    if not result.is_finite() or result <= 0:
        raise errors.InvalidOrder(f"paper: {symbol} {what} must be positive, got {value!r}")
    return result


def reduce_only_flag(params: dict[str, Any], symbol: str) -> bool:
    """params['reduceOnly']: a boolean (or 'true' / 'false'); bool('false') was True."""
    value = params.get("reduceOnly")
    if value is None or isinstance(value, bool):
        return bool(value)
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise errors.InvalidOrder(f"paper: {symbol} reduceOnly must be true or false, got {value!r}")


def _optional_decimal(params: dict[str, Any], key: str, symbol: str) -> Decimal | None:
    value = params.get(key)
    return None if value is None else positive_decimal(value, key, symbol)


def _check_client_id(client_id: Any, symbol: str) -> str | None:
    if client_id is None:
        return None
    if not isinstance(client_id, str) or not CLIENT_ID_PATTERN.fullmatch(client_id):
        raise errors.InvalidOrder(
            f"paper: {symbol} clientOrderId {client_id!r} must match {CLIENT_ID_PATTERN.pattern}"
        )
    return client_id


def _check_on_grid(value: Decimal, step: Decimal, what: str, symbol: str) -> None:
    try:
        on_grid = is_multiple(value, step)
    except ArithmeticError:  # value / step has more digits than the decimal context holds
        raise errors.InvalidOrder(f"paper: {symbol} {what} {value} is out of range") from None
    if not on_grid:
        raise errors.InvalidOrder(f"paper: {symbol} {what} {value} is not a multiple of {step}")


def _trigger(params: dict[str, Any], side: str, symbol: str) -> tuple[Decimal | None, str | None]:
    trigger = _optional_decimal(params, "triggerPrice", symbol)
    if trigger is None:
        return None, None
    raw = params.get("triggerDirection")
    direction = DIRECTIONS.get(str(raw).lower()) if raw is not None else None
    if direction is None:
        raise errors.InvalidOrder(
            f"paper: {symbol} triggerPrice needs triggerDirection 'above' or 'below', got {raw!r}"
        )
    return trigger, direction


def _declared_side(params: dict[str, Any], symbol: str) -> str | None:
    """The position side named by positionIdx / positionSide (None: neither given)."""
    by_idx = by_name = None
    raw_idx = params.get("positionIdx")
    if raw_idx is not None:
        idx = None
        if not isinstance(raw_idx, bool) and str(raw_idx).strip() in ("0", "1", "2"):
            idx = int(str(raw_idx).strip())
        if idx is None:
            raise errors.InvalidOrder(
                f"paper: {symbol} positionIdx must be 0 (one-way), 1 (long) or 2 (short), "
                f"got {raw_idx!r}"
            )
        by_idx = IDX_SIDES[idx]
    raw_name = params.get("positionSide")
    if raw_name is not None:
        by_name = NAMED_SIDES.get(raw_name.upper()) if isinstance(raw_name, str) else None
        if by_name is None:
            raise errors.InvalidOrder(
                f"paper: {symbol} positionSide must be 'BOTH', 'LONG' or 'SHORT', got {raw_name!r}"
            )
    if by_idx is not None and by_name is not None and by_idx != by_name:
        raise errors.InvalidOrder(
            f"paper: {symbol} positionIdx {raw_idx!r} and positionSide {raw_name!r} disagree"
        )
    return by_idx or by_name


def position_side(
    params: dict[str, Any], side: str, reduce_only: bool, *, hedge_mode: bool, symbol: str
) -> str:
    """The position an order acts on: 'net' in one-way mode, 'long' / 'short' in hedge mode.

    positionIdx (0/1/2) or positionSide ('BOTH'/'LONG'/'SHORT', any case) names it; ccxt's
    unified `hedged: True` derives it like ccxt does (long for a buy, or for a reduce-only sell).
    """
    declared = _declared_side(params, symbol)
    if declared is None and params.get("hedged") is True:
        declared = LONG if (side == "sell" if reduce_only else side == "buy") else SHORT
    if hedge_mode:
        if declared in (None, NET):
            got = "neither was given" if declared is None else "got 0 / 'BOTH'"
            raise errors.InvalidOrder(
                f"paper: {symbol} {MODE_MISMATCH}: the account is in hedge mode, every order "
                f"needs params positionIdx 1 (long) / 2 (short) or positionSide 'LONG' / "
                f"'SHORT' ({got})"
            )
        return declared
    if declared not in (None, NET):
        raise errors.InvalidOrder(
            f"paper: {symbol} {MODE_MISMATCH}: the account is in one-way mode, positionIdx / "
            f"positionSide must be 0 / 'BOTH' or absent (got the {declared} side)"
        )
    return NET


def closes(side: str, pos_side: str) -> bool:
    """In hedge mode a sell on the long side or a buy on the short side only reduces it."""
    return (pos_side == LONG and side == "sell") or (pos_side == SHORT and side == "buy")


def parse_request(
    market: dict[str, Any], type_: Any, side: Any, amount: Any, price: Any, params: dict[str, Any],
    *, hedge_mode: bool = False,
) -> OrderRequest:
    """Stateless checks: shape, grid, limits. Raises errors.InvalidOrder naming the rule."""
    symbol = market["symbol"]
    if type_ not in ("market", "limit"):
        raise errors.InvalidOrder(
            f"paper: {symbol} order type must be 'market' or 'limit', got {type_!r}")
    if side not in ("buy", "sell"):
        raise errors.InvalidOrder(f"paper: {symbol} side must be 'buy' or 'sell', got {side!r}")
    qty = positive_decimal(amount, "amount", symbol)
    limits = market["limits"]["amount"]
    if qty < limits["min"]:
        raise errors.InvalidOrder(
            f"paper: {symbol} amount {qty} is below the minimum {limits['min']}")
    if limits["max"] is not None and qty > limits["max"]:
        raise errors.InvalidOrder(
            f"paper: {symbol} amount {qty} is above the maximum {limits['max']}")
    _check_on_grid(qty, amount_step(market), "amount", symbol)
    limit_price = None
    if type_ == "limit":
        if price is None:
            raise errors.InvalidOrder(f"paper: {symbol} limit order needs a price")
        limit_price = positive_decimal(price, "price", symbol)
    stop_loss = _optional_decimal(params, "stopLossPrice", symbol)
    trigger, direction = _trigger(params, side, symbol)
    if stop_loss is not None and trigger is not None:
        raise errors.InvalidOrder(f"paper: {symbol} give stopLossPrice or triggerPrice, not both")
    if stop_loss is not None:
        trigger, direction = stop_loss, ("below" if side == "sell" else "above")
    for what, value in (("price", limit_price), ("trigger price", trigger)):
        if value is not None:
            _check_on_grid(value, price_tick(market), what, symbol)
    reduce_only = reduce_only_flag(params, symbol) or stop_loss is not None
    pos_side = position_side(params, side, reduce_only, hedge_mode=hedge_mode, symbol=symbol)
    return OrderRequest(
        symbol=symbol, type=type_, side=side, amount=qty, price=limit_price,
        client_id=_check_client_id(params.get("clientOrderId"), symbol),
        reduce_only=reduce_only or closes(side, pos_side),
        trigger_price=trigger, trigger_direction=direction, stop_loss_price=stop_loss,
        position_side=pos_side,
    )


def check_against_book(req: OrderRequest, mark: Decimal, position_qty: Decimal) -> None:
    """Checks that need the current price and position."""
    symbol = req.symbol
    reference = req.price or req.trigger_price or mark
    value = req.amount * reference
    if not req.reduce_only and value < MIN_COST:
        raise errors.InvalidOrder(
            f"paper: {symbol} order value {_usdt(value)} USDT is below the minimum {MIN_COST} "
            "USDT")
    if req.trigger_price is not None:
        above = req.trigger_direction == "above"
        if (above and req.trigger_price <= mark) or (not above and req.trigger_price >= mark):
            relation = "above" if above else "below"
            raise errors.InvalidOrder(
                f"paper: {symbol} trigger price {req.trigger_price} must be {relation} the "
                f"current price {mark}"
            )
    if req.reduce_only:
        the = "the " if req.position_side == NET else f"the {req.position_side} "
        if position_qty == 0:
            raise errors.InvalidOrder(
                f"paper: {symbol} reduce-only order but {the}position is zero")
        if (req.side == "sell") != (position_qty > 0):
            raise errors.InvalidOrder(
                f"paper: {symbol} reduce-only {req.side} would increase the "
                f"{'long' if position_qty > 0 else 'short'} position"
            )


def _usdt(value: Decimal) -> str:
    """An amount of USDT with at least cents and every digit it has: 1.50, 4.9999 (rounded
    to cents, 4.9999 read "order value 5.00 USDT is below the minimum 5 USDT")."""
    exact = value.normalize()
    exponent = exact.as_tuple().exponent
    if isinstance(exponent, int) and exponent > -2:
        exact = exact.quantize(Decimal("0.01"))
    return f"{exact:f}"
