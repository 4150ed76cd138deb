"""Where CcxtGateway meets the rate budget: building this account's meter on the venue's
shared budget, and the stop calls that always run at protective priority.

Priorities are decided by the port call (the outermost call wins): a stop placed or moved, a
reduce-only / closing order and a cancel are protective; an order that opens or adds, and the
leverage set before a symbol's first entry, are an entry; tickers and fills polling are
polling; every other read is reconciliation. Fencing: every request and every retry checks the
calling actor's fence (`exchange/fence.py`) before it goes out and after each sleep
(`exchange/budget_meter.py`, `retry.py`).
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable
from typing import Any, TypeVar

import ccxt

from exchange.budget import Priority, call_priority
from exchange.budget_meter import MaxWaits, RequestMeter
from exchange.budget_venues import BudgetRegistry, budget_host, limits_for

__all__ = ["BudgetRegistry", "MaxWaits", "ProtectiveStops", "extra_cap",
           "meter_for", "prioritized"]
from exchange.ccxt import order_params as op
from exchange.ccxt import venue_clock
from exchange.ccxt.rate_limit import TokenBucket
from exchange.ccxt.secrets import Credentials
from exchange.records import VenueOrder

T = TypeVar("T")


def api_host(probe: ccxt.Exchange) -> str:
    """The host the venue's IP limit is counted on (the first API URL's, `budget_host`)."""
    api = probe.urls.get("api")
    urls = [api] if isinstance(api, str) else [v for v in (api or {}).values()
                                               if isinstance(v, str)]
    venue = limits_for(str(probe.id), float(probe.rateLimit or 50)).venue
    return budget_host(venue, urls[0]) if urls else str(probe.id)


def meter_for(probe: ccxt.Exchange, budgets: BudgetRegistry, credentials: Credentials | None,
              share: float, timeout_ms: int | None, waits: MaxWaits,
              clocks: tuple[Callable[[], float], Callable[[float], None], Callable[[], float]],
              ) -> RequestMeter:
    """This account's meter on the budget shared by every gateway of `budgets` on the same venue
    and API host. Accounts are told apart by a hash of the key, never the key itself. `clocks`:
    (monotonic, sleep, wall clock)."""
    monotonic, sleep, wall_clock = clocks
    account = "public"
    if credentials is not None:
        key = credentials.redaction_list()[0]
        account = "key-" + hashlib.sha256(key.encode()).hexdigest()[:8]
    limits = limits_for(str(probe.id), float(probe.rateLimit or 50))
    venue = budgets.venue(limits, api_host(probe), share, clock=monotonic, sleep=sleep)
    clock = venue_clock.shared(venue, str(probe.id))  # the gateway's clock_sync, the same one
    return RequestMeter(venue, venue.account(account),
                        timeout_s=(timeout_ms or probe.timeout or 10_000) / 1000,
                        waits=waits, wall_clock=wall_clock,
                        machine_ahead_s=lambda: (clock.ahead_at_most_ms or 0) / 1000)


class ProtectiveStops:
    """Placing and moving a stop are protective, whatever calls they make inside (the class
    sits before StopsMixin in CcxtGateway's bases, so `super()` is the real call)."""

    def place_stop(self, *args: Any, **kwargs: Any) -> VenueOrder:
        with call_priority(Priority.PROTECTIVE):
            return super().place_stop(*args, **kwargs)  # type: ignore[misc]

    def move_stop(self, *args: Any, **kwargs: Any) -> VenueOrder:
        with call_priority(Priority.PROTECTIVE):
            return super().move_stop(*args, **kwargs)  # type: ignore[misc]

    def amend_stop(self, *args: Any, **kwargs: Any) -> VenueOrder:
        with call_priority(Priority.PROTECTIVE):
            return super().amend_stop(*args, **kwargs)  # type: ignore[misc]


def order_priority(side: str, params: dict[str, Any] | None) -> Priority:
    """Protective for a stop or an order that only reduces (a close), else an entry."""
    params = params or {}
    if any(params.get(k) is not None for k in ("takeProfitPrice", "triggerPrice", "stopPrice")):
        return Priority.PROTECTIVE
    try:
        reducing = op.is_reducing(side, params)
    except ccxt.BaseError:
        # params the gateway refuses (e.g. positionIdx and positionSide disagree): the call
        # itself raises that as the port's InvalidOrder before anything is sent
        return Priority.ENTRY
    return Priority.PROTECTIVE if reducing else Priority.ENTRY


def _create_priority(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Priority:
    # create_order(self, symbol, type, side, amount, price=None, params=None)
    side = kwargs.get("side", args[3] if len(args) > 3 else "")
    params = kwargs.get("params", args[6] if len(args) > 6 else None)
    return order_priority(str(side), params)


FIXED: dict[str, Priority] = {"cancel_order": Priority.PROTECTIVE,
                              "fetch_tickers": Priority.POLLING,
                              "poll_updates": Priority.POLLING,
                              # funding payments: booked minutes late at worst, never before
                              # an order, a reconciliation or a price (actors/funding_feed.py)
                              "fetch_funding_history": Priority.POLLING,
                              # before a symbol's first entry (actors/leverage.py): the
                              # entry's own priority, never ahead of a stop or a close
                              "set_leverage": Priority.ENTRY}


def _wrap(method: Callable[..., Any], priority: Priority | None) -> Callable[..., Any]:
    @functools.wraps(method)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        chosen = _create_priority(args, kwargs) if priority is None else priority
        with call_priority(chosen):
            return method(*args, **kwargs)

    return wrapper


def prioritized(cls: type[T]) -> type[T]:
    """Class decorator: each port call of the gateway runs at its priority (create_order's
    depends on its params); the outermost call decides for everything it calls inside."""
    for name, priority in FIXED.items():
        setattr(cls, name, _wrap(getattr(cls, name), priority))
    cls.create_order = _wrap(cls.create_order, None)  # type: ignore[attr-defined]
    return cls


def extra_cap(rate_per_s: float | None, burst: float, monotonic: Callable[[], float],
              sleep: Callable[[float], None]) -> TokenBucket | None:
    """The optional extra cap in ccxt cost units (`rate_limit_per_s`; 0/None: none)."""
    return TokenBucket(rate_per_s, burst, clock=monotonic, sleep=sleep) if rate_per_s else None
