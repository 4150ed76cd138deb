"""Metering one REST request against the venue budget: before it goes out (spend, wait, fence,
liveness) and after its answer (the venue's usage headers correct the local estimate, Bybit's
`X-Bapi-Limit` sets the endpoint's rate; a rate-limit refusal blocks the bucket until the
venue's reset; Bybit's HTTP 403 "access too frequent" bans the IP: every request to the venue
is blocked for `BYBIT_IP_BAN_S`).

Called by the ccxt instance wrapper (exchange/ccxt/instances.py) with ccxt's own cost of the
endpoint, so the meter never has to parse URLs.
"""

from __future__ import annotations

import math
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from loguru import logger

from exchange.budget import Priority, PriorityBucket, current_priority
from exchange.budget_venues import (
    BINANCE_USDM,
    BYBIT,
    BYBIT_UID_WINDOW_S,
    AccountBudget,
    VenueBudget,
    api_name,
    ip_units,
)
from exchange.fence import check_fence, check_preempted, in_preemptible, waiting
from exchange.venue_blocks import MAX_BLOCK_S

PREEMPTIBLE_STEP_S = 0.25
"""The longest single budget wait of a call that may be set aside (exchange/fence.py
`preemptible`): it looks for an order report after each step."""
BINANCE_ORDER_PATHS = frozenset({"order", "algoOrder", "batchOrders"})
DEFAULT_BLOCK_S = 1.0
"""How long to send nothing after a rate-limit refusal that names no reset (the real venues
name one: Binance's Retry-After, Bybit's reset timestamp)."""
BYBIT_IP_BAN_S = 600.0
"""Bybit v5 rate-limit docs: after HTTP 403 "access too frequent" the IP is banned; stop all
HTTP requests for at least 10 minutes."""
_BYBIT_BAN = re.compile(r'"retCode"\s*:\s*403\b|access too frequent', re.IGNORECASE)
_BINANCE_ORDER_LIMIT = re.compile(r'"code"\s*:\s*-1015\b')
"""Binance's refusal for the account's new-order limit (not the IP's)."""
_BYBIT_IP_LIMIT = re.compile(r'"retCode"\s*:\s*10018\b')
"""Bybit's refusal for the IP's rate limit (10006 is the UID's, per endpoint)."""
BYBIT_RESET_MAX_S = 60.0
"""The longest block a Bybit reset timestamp is believed for (its UID limits turn every
second, its IP window every 5 s; the IP ban, 600 s, is a 403 and has its own): a stamp further
off (in microseconds, a wall clock far behind) would block stops and cancels for that long."""
HEADER_MARGIN = 0.025
"""Share of a limit a header's count leaves unused, for requests in flight."""
BINANCE_WEIGHT_HEADER_WRONG = frozenset({("fapiPublicV2", "ticker/price")})
"""Endpoints whose `X-MBX-USED-WEIGHT-1M` the venue's docs call inaccurate ("please ignore"):
the price ticker v2, the REST feed's price read several times a second. Believed, its count
capped or blocked the IP budget every other call pays from."""


@dataclass(frozen=True, slots=True, kw_only=True)
class MaxWaits:
    """How long a call of each lower priority may wait for budget before it is refused."""

    reconcile_s: float = 30.0
    entry_s: float = 2.0
    polling_s: float = 5.0

    def of(self, priority: Priority) -> float:
        return {Priority.GAP_FILL: self.reconcile_s, Priority.RECONCILE: self.reconcile_s,
                Priority.ENTRY: self.entry_s,
                Priority.POLLING: self.polling_s}.get(priority, float("inf"))


class RequestMeter:
    def __init__(self, venue: VenueBudget, account: AccountBudget, *, timeout_s: float,
                 waits: MaxWaits = MaxWaits(),
                 wall_clock: Callable[[], float] = time.time,
                 machine_ahead_s: Callable[[], float] = lambda: 0.0) -> None:
        """`machine_ahead_s`: how far this machine's clock runs ahead of the venue's, as far
        as it is known (exchange/ccxt/venue_clock.py), so the venue's windows and reset
        timestamps are placed on its clock (`_venue_now`)."""
        self.venue, self.account = venue, account
        self.timeout_s = timeout_s
        self.waits = waits
        self._wall = wall_clock
        self._ahead = machine_ahead_s
        self._sent = threading.local()
        """The venue time this thread's last request went out (`before`), for its answer."""
        self.requests = 0

    def _hold(self, seconds: float) -> None:
        """Before each wait: the actor is busy for the wait plus the request that follows. A
        reconciliation's call (below protective) is set aside instead when its actor has an
        order report waiting (`Preempted`, exchange/fence.py `preemptible`)."""
        check_fence()
        if current_priority() is not Priority.PROTECTIVE:
            check_preempted()
        waiting(seconds + self.timeout_s)

    def before(self, api: object, method: str, path: str, ccxt_cost: float) -> float:
        """Spend this request's units (waiting as its priority allows); raise `Fenced` if the
        issuing incarnation was replaced, `BudgetRefused` if the wait would be too long.
        Returns the seconds waited. Refused, set aside or fenced on the way, it gives back
        what it booked: it was not sent (the IP weight of a call its endpoint refused stayed
        spent, every account's on the venue)."""
        priority = current_priority()
        check_fence()
        paid: list[tuple[PriorityBucket, float]] = []
        try:
            waited = self._pay(self._costs(api, method, path, ccxt_cost), priority, paid)
            check_fence()  # after every wait: a replaced incarnation sends nothing
        except BaseException:
            for bucket, units in paid:
                bucket.give_back(units, priority)
            raise
        waiting(self.timeout_s)
        self.requests += 1
        self._sent.at = self._venue_now()
        return waited

    def give_back(self, api: object, method: str, path: str, ccxt_cost: float) -> None:
        """A request `before` paid for is not sent after all (the gateway's extra cap refused
        it, exchange/ccxt/instances.py): its units come back, at the current priority."""
        priority = current_priority()
        for bucket, units in self._costs(api, method, path, ccxt_cost):
            bucket.give_back(units, priority)

    def _costs(self, api: object, method: str, path: str,
               ccxt_cost: float) -> list[tuple[PriorityBucket, float]]:
        """The buckets a request pays, in order, with its units in each."""
        units = ip_units(self.venue.limits, api, method, path, ccxt_cost)
        costs = [(self.venue.ip, units)] if units > 0 else []
        costs += [(bucket, 1.0) for bucket in self._account_buckets(api, method, path, ccxt_cost)]
        # the IP's block holds every request, one that weighs nothing on it too (a Binance
        # order: it went out during a 418 ban), and one that came during the waits above
        return [*costs, (self.venue.ip, 0.0)]

    def _pay(self, costs: list[tuple[PriorityBucket, float]], priority: Priority,
             paid: list[tuple[PriorityBucket, float]]) -> float:
        """Take each cost in turn, noting in `paid` what was booked; the bound holds over every
        bucket the request pays, not each alone."""
        bound = self.waits.of(priority)
        step = PREEMPTIBLE_STEP_S if in_preemptible() else math.inf
        waited = 0.0
        for bucket, units in costs:
            waited += bucket.take(units, priority, max_wait_s=bound - waited,
                                  before_sleep=self._hold, step_s=step)
            paid.append((bucket, units))
        return waited

    def _account_buckets(self, api: object, method: str, path: str,
                         ccxt_cost: float) -> list[PriorityBucket]:
        limits = self.venue.limits
        if limits is BINANCE_USDM:
            if method == "POST" and path in BINANCE_ORDER_PATHS:
                return list(self.account.order_buckets)
            return []
        if limits is BYBIT and _private(api):
            return [self.account.endpoint(path, ccxt_cost)]
        return []

    def after(self, api: object, path: str, headers: Mapping[str, str] | None,
              rate_limited: bool, *, status: int | None = None, error: str = "") -> bool:
        """Correct the estimate from the venue's headers; on a refusal, wait out its reset.
        `status`: the answer's HTTP status; `error`: the raised error's text. Returns whether
        the venue refused for rate (Bybit's IP ban too, whatever class ccxt raised)."""
        h = {k.lower(): v for k, v in (headers or {}).items()}
        limits = self.venue.limits
        if limits is BINANCE_USDM:
            if (api_name(api), path) in BINANCE_WEIGHT_HEADER_WRONG:
                h.pop("x-mbx-used-weight-1m", None)  # the venue: not accurate, ignore it
            self._binance(h, rate_limited, error)
        elif limits is BYBIT:
            if status == 403 or _BYBIT_BAN.search(error):
                self._ip_banned(BYBIT_IP_BAN_S)
                return True
            self._bybit(api, path, h, rate_limited, ip_limit=bool(_BYBIT_IP_LIMIT.search(error)))
        elif rate_limited:
            self.venue.ip.block_for(_retry_after(h))
        return rate_limited

    def _venue_now(self) -> float:
        """The venue's time: its fixed windows (Binance's minute and order windows) turn and
        its reset timestamps (Bybit) fall on its clock. Placed on this machine's clock, 30 s
        ahead, a spent Binance minute was waited out 30 s early (the next call a 429) and a
        Bybit refusal's reset looked past, so the call was sent again at once."""
        return self._wall() - self._ahead()

    def _window_left(self, window_s: float) -> float:
        """Seconds until the venue's fixed window an answer's count speaks of turns: the one
        the request went out in (sent before, answered after a turn, it carried the spent
        window's count, and the whole next window was blocked: a stop's cancel held 59.9 s
        of a fresh minute). The venue counts it on arrival, between the two, but a count at
        the limit in a window begun less than one request's time ago is out of reach. An
        answer not sent through `before` on this thread: the window of now."""
        now = self._venue_now()
        sent = min(getattr(self._sent, "at", now), now)
        return max(sent - sent % window_s + window_s - now, 0.0)

    def _ip_banned(self, seconds: float) -> None:
        if self.venue.ip.block_for(seconds) >= seconds - 1.0:
            return  # already logged: another answer of the same ban
        until = datetime.fromtimestamp(self._wall() + seconds, UTC)
        logger.error("{}: HTTP 403 'access too frequent': the venue banned this IP; no request "
                     "to it until {} ({:g} s)", self.venue.limits.venue,
                     until.isoformat(timespec="seconds"), seconds)

    def _binance(self, h: dict[str, str], rate_limited: bool, error: str = "") -> None:
        self._binance_orders(h)
        if rate_limited and _BINANCE_ORDER_LIMIT.search(error):
            # -1015: the account's order limit, not the IP's weight: the IP budget every
            # account shares stays open; the order windows wait (above, or here when the
            # answer carried no count: the shortest window until it turns)
            if not any(limit.header in h for limit in BINANCE_USDM.order_limits):
                first = BINANCE_USDM.order_limits[0]
                self.account.order_buckets[0].block_for(self._window_left(first.window_s))
            return
        used = _number(h.get("x-mbx-used-weight-1m"))
        minute_left = self._window_left(BINANCE_USDM.ip_window_s)
        if used is not None and minute_left > 0:  # the count of a minute gone tells nothing
            # what the venue still allows this IP this minute (whoever spent the rest), less a
            # margin for requests in flight
            margin = BINANCE_USDM.ip_limit * HEADER_MARGIN
            remaining = BINANCE_USDM.ip_limit - used - margin
            self.venue.ip.cap_remaining(remaining)
            if remaining <= 0 and not rate_limited:
                # Binance counts weight per fixed minute: what a local refill would let out
                # before the minute turns is a 429 (and repeated 429s are an IP ban)
                self.venue.ip.block_for(minute_left, refused=False)
        if rate_limited:
            self.venue.ip.block_for(_retry_after(h))

    def _binance_orders(self, h: dict[str, str]) -> None:
        """The account's new-order counts (on an order's answer): never assume more left than
        the venue says; a spent window sends no order before it turns (the venue's windows
        are fixed, and its -1015 names no reset)."""
        for limit, bucket in zip(BINANCE_USDM.order_limits, self.account.order_buckets,
                                 strict=True):
            count = _number(h.get(limit.header))
            left = self._window_left(limit.window_s)
            if count is None or left <= 0:  # no count, or one of a window gone
                continue
            remaining = limit.limit * (1 - HEADER_MARGIN) - count
            bucket.cap_remaining(remaining)
            if remaining <= 0:
                bucket.block_for(left)

    def _bybit(self, api: object, path: str, h: dict[str, str], rate_limited: bool, *,
               ip_limit: bool = False) -> None:
        """`ip_limit`: the refusal is retCode 10018, the IP's limit: the IP budget waits (the
        venue's reset, else the IP window), not only the endpoint that drew it."""
        left = _number(h.get("x-bapi-limit-status"))
        reset_ms = _number(h.get("x-bapi-limit-reset-timestamp"))
        bucket = self.account.endpoint(path, 0) if _private(api) else None
        stated = h.get("x-bapi-limit")
        if bucket is not None and stated is not None:
            # this UID's own limit for the endpoint (account level, VIP/PRO): it replaces
            # ccxt's figure, up or down
            self.account.stated_limit(path, _number(stated), stated)
        if bucket is not None and left is not None:
            bucket.cap_remaining(left - 1)  # keep one for the window edge
            if left <= 0 and not rate_limited:
                bucket.block_for(BYBIT_UID_WINDOW_S)  # none left: the rolling second must pass
        if not rate_limited:
            return
        wait = BYBIT.ip_window_s if ip_limit else DEFAULT_BLOCK_S
        if reset_ms is not None:
            wait = max(reset_ms / 1000 - self._venue_now(), 0.05)
            if wait > BYBIT_RESET_MAX_S:
                logger.warning("{}: X-Bapi-Limit-Reset-Timestamp {!r} is {:.0f} s away, beyond "
                               "any Bybit rate window: {} blocked for {:g} s instead",
                               BYBIT.venue, h.get("x-bapi-limit-reset-timestamp"), wait, path,
                               BYBIT_RESET_MAX_S)
                wait = BYBIT_RESET_MAX_S
        (self.venue.ip if ip_limit else bucket or self.venue.ip).block_for(wait)


def _private(api: object) -> bool:
    names = api if isinstance(api, list | tuple) else [api]
    return any("private" in str(n).lower() for n in names)


def _retry_after(h: dict[str, str]) -> float:
    """A refusal's `Retry-After` in seconds: DEFAULT_BLOCK_S when absent or not positive (a
    'Retry-After: -30' blocked for nothing, and the next calls went into the same refusal);
    at most the longest ban there is (MAX_BLOCK_S, said in one line: a garbage figure blocked
    every call, stops included, for as long as it said)."""
    retry = _number(h.get("retry-after"))
    if retry is None or retry <= 0:
        return DEFAULT_BLOCK_S
    if retry > MAX_BLOCK_S:
        logger.warning("Retry-After {!r} is beyond the longest venue ban: taken as {:g} s",
                       h.get("retry-after"), MAX_BLOCK_S)
        return MAX_BLOCK_S
    return retry


def _number(value: object) -> float | None:
    """A header's number; None when absent or not a finite number (a 'Retry-After: inf' would
    block the venue, protective calls included, for the life of the process)."""
    try:
        number = None if value is None else float(str(value))
    except ValueError:
        return None
    return number if number is not None and math.isfinite(number) else None
