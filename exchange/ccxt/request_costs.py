"""What one REST request costs against a venue's IP limit, known before anything is sent: the
start-time check of the REST schedule (runtime/rest_demand.py) prices the requests the periodic
work makes exactly as the budget will when they go out (exchange/ccxt/instances.py: ccxt's own
cost of the endpoint with the venue's corrections, `cost_config`, then `ip_units` with its
fixed weights), so the two never disagree
and no weight is written down twice."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import ccxt

from exchange.budget_venues import cost_config, ip_units, limits_for


@dataclass(frozen=True, slots=True)
class Request:
    """One REST request: ccxt's api section (`fapiPrivate`, `private`), method and path, and
    whether it names one symbol (Binance weighs some endpoints far more without one)."""

    api: str
    method: str
    path: str
    one_symbol: bool = True


@functools.cache
def _venue(exchange_id: str) -> tuple[Any, dict[str, Any]]:
    """A ccxt instance of the venue (no keys, nothing sent) and its endpoint table."""
    inst = getattr(ccxt, exchange_id)()
    return inst, inst.describe().get("api") or {}


def units(exchange_id: str, request: Request) -> float:
    """`request`'s cost in the venue's units (Binance weight, Bybit requests)."""
    inst, table = _venue(exchange_id)
    config = (table.get(request.api) or {}).get(request.method.lower(), {}).get(request.path)
    if not isinstance(config, dict):  # ccxt writes a bare number for some endpoints
        config = {"cost": config} if isinstance(config, int | float) else {}
    config = cost_config(exchange_id, request.api, request.method, request.path, config)
    params = {"symbol": "X"} if request.one_symbol else {}
    cost = inst.calculate_rate_limiter_cost(request.api, request.method, request.path, params,
                                            config)
    limits = limits_for(exchange_id, float(inst.rateLimit or 50))
    return ip_units(limits, request.api, request.method, request.path,
                    float(cost) if cost else 1.0)
