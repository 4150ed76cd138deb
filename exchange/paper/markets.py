"""Market definitions for linear USDT perpetuals, in ccxt's market shape (TICK_SIZE mode).

Known symbols get realistic steps (like a large derivatives venue); unknown symbols get steps
derived from their initial price. Amounts round DOWN to the step (ccxt TRUNCATE), prices round
to the nearest tick.
"""

from __future__ import annotations

import math
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal
from typing import Any

from exchange import errors
from exchange.paper.prices import REFERENCE_PRICES, base_of
from exchange.records import VenueMarket

MIN_COST = Decimal("5")
MAX_NOTIONAL = Decimal("10000000")

# base -> (amount step, price tick, max amount)
KNOWN_STEPS: dict[str, tuple[Decimal, Decimal, Decimal]] = {
    "BTC": (Decimal("0.001"), Decimal("0.1"), Decimal("100")),
    "ETH": (Decimal("0.01"), Decimal("0.01"), Decimal("1500")),
    "SOL": (Decimal("0.1"), Decimal("0.01"), Decimal("50000")),
    "XRP": (Decimal("1"), Decimal("0.0001"), Decimal("5000000")),
    "DOGE": (Decimal("1"), Decimal("0.00001"), Decimal("30000000")),
    "BNB": (Decimal("0.01"), Decimal("0.01"), Decimal("5000")),
    "ADA": (Decimal("1"), Decimal("0.0001"), Decimal("5000000")),
    "AVAX": (Decimal("0.1"), Decimal("0.001"), Decimal("100000")),
    "LINK": (Decimal("0.1"), Decimal("0.001"), Decimal("200000")),
    "LTC": (Decimal("0.1"), Decimal("0.01"), Decimal("30000")),
    "DOT": (Decimal("0.1"), Decimal("0.001"), Decimal("500000")),
    "MATIC": (Decimal("1"), Decimal("0.0001"), Decimal("5000000")),
    "POL": (Decimal("1"), Decimal("0.0001"), Decimal("5000000")),
}


def power_of_ten(exponent: int) -> Decimal:
    return Decimal(1).scaleb(exponent)


def derived_steps(price: Decimal) -> tuple[Decimal, Decimal, Decimal]:
    """Steps for an unknown symbol: tick ~ price*1e-4 rounded down to a power of ten; one
    amount step worth 0.1-1 USDT."""
    p = float(price)
    tick = power_of_ten(math.floor(math.log10(p * 1e-4)))
    step = power_of_ten(math.ceil(math.log10(0.1 / p) - 1e-12))
    max_amount = truncate(MAX_NOTIONAL / price, step)
    return step, tick, max_amount


def steps_for(symbol: str, initial_price: Decimal) -> tuple[Decimal, Decimal, Decimal]:
    """Known steps when the price source's price is plausible for them, else derived."""
    base = base_of(symbol)
    known = KNOWN_STEPS.get(base)
    reference = REFERENCE_PRICES.get(base)
    if known and reference and reference / 20 <= initial_price <= reference * 20:
        return known
    return derived_steps(initial_price)


def split_symbol(symbol: str) -> tuple[str, str, str]:
    """'BTC/USDT:USDT' -> ('BTC', 'USDT', 'USDT')."""
    if "/" not in symbol:
        raise errors.BadSymbol(f"paper: malformed symbol {symbol!r} (expected BASE/QUOTE:SETTLE)")
    base, rest = symbol.split("/", 1)
    quote, _, settle = rest.partition(":")
    return base, quote, settle or quote


def build_market(
    symbol: str, initial_price: Decimal, maker: Decimal, taker: Decimal
) -> dict[str, Any]:
    base, quote, settle = split_symbol(symbol)
    step, tick, max_amount = steps_for(symbol, Decimal(initial_price))
    return {
        "id": f"{base}{quote}",
        "symbol": symbol,
        "base": base,
        "quote": quote,
        "settle": settle,
        "baseId": base,
        "quoteId": quote,
        "settleId": settle,
        "type": "swap",
        "spot": False,
        "margin": False,
        "swap": True,
        "future": False,
        "option": False,
        "active": True,
        "contract": True,
        "linear": True,
        "inverse": False,
        "contractSize": Decimal(1),
        "maker": maker,
        "taker": taker,
        "precision": {"amount": step, "price": tick},
        "limits": {
            "amount": {"min": step, "max": max_amount},
            "price": {"min": tick, "max": None},
            "cost": {"min": MIN_COST, "max": None},
            "leverage": {"min": Decimal(1), "max": Decimal(100)},
        },
        "info": {},
    }


def venue_market(market: dict[str, Any]) -> VenueMarket:
    """The port's record of a paper market (built by `build_market`)."""
    limits = market["limits"]
    return VenueMarket(
        symbol=market["symbol"], amount_step=amount_step(market), price_tick=price_tick(market),
        min_amount=limits["amount"]["min"], max_amount=limits["amount"]["max"],
        min_cost=limits["cost"]["min"], contract_size=market["contractSize"],
        linear=market["linear"], swap=market["swap"], settle=market["settle"],
        maker_fee=market["maker"], taker_fee=market["taker"],
    )


def truncate(value: Decimal, step: Decimal) -> Decimal:
    """Round DOWN to a multiple of step (ccxt TRUNCATE)."""
    return ((value / step).to_integral_value(rounding=ROUND_DOWN) * step).quantize(_exp(step))


def round_to_tick(value: Decimal, tick: Decimal) -> Decimal:
    """Round to the nearest multiple of tick (halves away from zero)."""
    return ((value / tick).to_integral_value(rounding=ROUND_HALF_UP) * tick).quantize(_exp(tick))


def amount_to_step(venue: str, symbol: str, amount: Decimal, step: Decimal) -> Decimal:
    """`truncate`, refusing a result of 0 as ccxt (and so the live gateway) refuses it: never
    an amount of 0 to send. Shared by the paper exchange and the backtest's (`venue` names
    which in the message)."""
    result = truncate(amount, step)
    if result == 0:
        raise errors.InvalidOrder(f"{venue}: {symbol} amount {amount} must be greater than "
                                  f"the minimum amount precision {step}")
    return result


def price_to_tick(venue: str, symbol: str, price: Decimal, tick: Decimal) -> Decimal:
    """`round_to_tick`, refusing a result of 0 as ccxt refuses it (see `amount_to_step`)."""
    result = round_to_tick(price, tick)
    if result == 0:
        raise errors.InvalidOrder(f"{venue}: {symbol} price {price} must be greater than "
                                  f"the minimum price precision {tick}")
    return result


def _exp(step: Decimal) -> Decimal:
    """Quantization exponent for a step: its own for fractional steps, units otherwise."""
    exponent = step.as_tuple().exponent
    return step if isinstance(exponent, int) and exponent <= 0 else Decimal(1)


def is_multiple(value: Decimal, step: Decimal) -> bool:
    return value % step == 0


def amount_step(market: dict[str, Any]) -> Decimal:
    return market["precision"]["amount"]


def price_tick(market: dict[str, Any]) -> Decimal:
    return market["precision"]["price"]
