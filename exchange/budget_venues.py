"""Each venue's documented limits, in its own units, and the process-wide budget registry.

Figures (checked December 2026; ccxt 4.5.90's cost tables agree):
  Binance USDⓈ-M: REQUEST_WEIGHT 2,400 per minute per IP (fixed minute; the answer's
    `X-MBX-USED-WEIGHT-1M` says what this IP used); ccxt's fapi `cost` IS the weight (e.g.
    ticker/24hr without symbol 40, userTrades 5, positionRisk 5, order 1). ORDERS 300 per 10 s
    and 1,200 per minute per account (new orders only; one bucket each, a new order takes
    both), counted per fixed window; an order's answer carries `X-MBX-ORDER-COUNT-10S` and
    `X-MBX-ORDER-COUNT-1M` (the account's count in each window); over either: 429, -1015.
  Bybit v5: 600 requests per 5 s per IP (any endpoint; over it: HTTP 403 "access too
    frequent", the IP is banned for at least 10 minutes); per UID and endpoint a per-second limit
    (ccxt encodes it as cost = 50 / limit: order create 20/s, position/list 10/s ...); every
    answer carries `X-Bapi-Limit-Status` (left for that endpoint), `X-Bapi-Limit` (this UID's
    current limit for that endpoint: it differs by account level, VIP/PRO, and changes over
    time, so it replaces ccxt's figure once seen) and `X-Bapi-Limit-Reset-Timestamp` (ms).
  Any other ccxt venue: ccxt's own units (1000 / rateLimit per second).

The bot spends at most `share` of each limit (the rest is headroom for other programs on the
same IP and account, and for the venue's own window edges): rate = limit * share / window and
capacity = that rate over a tenth of the window, so a fixed venue window never sees more than
share * limit * 1.1.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass
from urllib.parse import urlsplit

from loguru import logger

from exchange.budget import PriorityBucket
from exchange.venue_blocks import VenueBlocks


@dataclass(frozen=True, slots=True)
class OrderLimit:
    """One per-account limit on new orders: `limit` per fixed `window_s`; the answer's `header`
    carries the account's count in the current window."""

    limit: float
    window_s: float
    header: str


@dataclass(frozen=True, slots=True, kw_only=True)
class VenueLimits:
    venue: str
    unit: str
    ip_limit: float
    ip_window_s: float
    order_limits: tuple[OrderLimit, ...] = ()
    """Every new order takes one from each (the shortest window first)."""
    per_endpoint: bool = False
    """Bybit: each private endpoint has its own per-UID per-second limit."""


BINANCE_USDM = VenueLimits(
    venue="binanceusdm", unit="weight", ip_limit=2400, ip_window_s=60,
    order_limits=(OrderLimit(300, 10, "x-mbx-order-count-10s"),
                  OrderLimit(1200, 60, "x-mbx-order-count-1m")))
BYBIT = VenueLimits(venue="bybit", unit="requests", ip_limit=600, ip_window_s=5,
                    per_endpoint=True)


VENUE_HOSTS = {"binanceusdm": frozenset({"fapi.binance.com", "api.binance.com"}),
               "bybit": frozenset({"api.bybit.com", "api.bytick.com", "api.{hostname}"})}
"""The venues' own API hosts: one IP limit whichever of them (or none: ccxt's default) an
account names."""
_DEFAULT_PORTS = {"http": 80, "ws": 80, "https": 443, "wss": 443}
_LOOPBACK = ("localhost", "ip6-localhost", "::1")


def budget_host(venue: str, url: str) -> str:
    """The host an IP limit is counted on, one spelling per host: '' for the venue's own API
    hosts (and for no URL), otherwise the lower-case host with its port unless it is the
    scheme's default, every loopback name as 'loopback'. Two accounts naming one host two ways
    ('http://localhost:8080', 'HTTP://127.0.0.1:8080/') must pay from one budget."""
    if not url:
        return ""
    parts = urlsplit(url if "//" in url else "//" + url)
    host = (parts.hostname or "").lower()
    if host in VENUE_HOSTS.get(venue, ()):
        return ""
    if host in _LOOPBACK or host.startswith("127."):
        host = "loopback"
    try:
        port = parts.port
    except ValueError:
        port = None
    if port is None or port == _DEFAULT_PORTS.get(parts.scheme.lower()):
        return host
    return f"{host}:{port}"


def limits_for(exchange_id: str, ccxt_rate_limit_ms: float) -> VenueLimits:
    if exchange_id in ("binanceusdm", "binance"):
        return BINANCE_USDM
    if exchange_id == "bybit":
        return BYBIT
    per_s = 1000.0 / max(float(ccxt_rate_limit_ms or 50), 1.0)
    return VenueLimits(venue=exchange_id, unit="ccxt cost", ip_limit=per_s, ip_window_s=1.0)


BINANCE_WEIGHT_FIXES = {
    **{(api, "GET", path): 5.0 for api in ("fapiPrivateV2", "fapiPrivateV3")
       for path in ("positionRisk", "account", "balance")},
    ("fapiPrivate", "POST", "order"): 0.0}
"""Where ccxt 4.5.90's table differs from the venue's docs: position risk, account (ccxt's
fetch_balance) and balance v2/v3 weigh 5 (ccxt: 1); a new order weighs 0 on the IP limit
(ccxt: 4), it counts on the account's order limits."""
BINANCE_COST_FIXES: dict[tuple[str, str, str], dict[str, object]] = {
    ("fapiPublicV2", "GET", "ticker/price"): {"cost": 1, "noSymbol": 2}}
"""ccxt 4.5.90 endpoint configs the venue's docs correct where the weight depends on the
request's symbol: the price ticker v2 (the REST feed's prices, exchange/ccxt/rest_tickers.py)
weighs 1 with a symbol and 2 without; ccxt's table says 0, which the budget took as 1."""


def api_name(api: object) -> str:
    """The name of ccxt's api section a request went to (ccxt passes `api` as the name, or as
    a list whose first item is the name: ['fapiPublicV2', 'get'])."""
    return str(api[0] if isinstance(api, list | tuple) and api else api)


def cost_config(exchange_id: str, api: object, method: str, path: str,
                config: dict[str, object]) -> dict[str, object]:
    """ccxt's `config` of an endpoint, as the venue weighs it (`BINANCE_COST_FIXES`), for
    ccxt's `calculate_rate_limiter_cost` (which reads its `noSymbol` against the params)."""
    if exchange_id not in ("binanceusdm", "binance"):
        return config
    return BINANCE_COST_FIXES.get((api_name(api), method.upper(), path), config)


def ip_units(limits: VenueLimits, api: object, method: str, path: str,
             ccxt_cost: float) -> float:
    """What one request costs against the venue's IP limit."""
    if limits is BYBIT:
        return 1.0  # Bybit counts requests, whatever the endpoint
    if limits is BINANCE_USDM:
        fixed = BINANCE_WEIGHT_FIXES.get((api_name(api), method, path))
        if fixed is not None:
            return fixed
    return float(ccxt_cost) if ccxt_cost else 1.0  # Binance fapi: ccxt cost == weight


BYBIT_UID_WINDOW_S = 1.0
"""Bybit's per-UID endpoint limits count over a rolling second."""
BYBIT_UID_LIMIT_MAX = 1000.0
"""The highest per-UID limit (requests/s) an `X-Bapi-Limit` header is taken at (Bybit's top
tiers state a few hundred; the IP limit, 120/s, stops the bot long before)."""


def _shape(limit: float, window_s: float, share: float) -> tuple[float, float]:
    """(rate per second, capacity) of a bucket spending `share` of `limit` per `window_s`."""
    rate = limit * share / window_s
    return rate, max(rate * window_s / 10, 1.0)


def _bucket(name: str, limit: float, window_s: float, share: float, unit: str,
            clock: Callable[[], float], sleep: Callable[[float], None]) -> PriorityBucket:
    rate, capacity = _shape(limit, window_s, share)
    return PriorityBucket(name, rate_per_s=rate, capacity=capacity, unit=unit, clock=clock,
                          sleep=sleep)


class AccountBudget:
    """One account's (API key's) own limits on a venue: order counts, per-endpoint limits."""

    def __init__(self, name: str, limits: VenueLimits, share: float,
                 clock: Callable[[], float], sleep: Callable[[float], None]) -> None:
        self.name, self.limits, self.share = name, limits, share
        self._clock, self._sleep = clock, sleep
        self._lock = threading.Lock()
        self.order_buckets = tuple(
            _bucket(f"{name} orders/{o.window_s:g}s", o.limit, o.window_s, share, "orders",
                    clock, sleep) for o in limits.order_limits)
        """One per `limits.order_limits`, in its order."""
        self._endpoints: dict[str, PriorityBucket] = {}
        self._stated: dict[str, float] = {}
        """The limit each endpoint's last `X-Bapi-Limit` stated (requests/s)."""
        self._odd_told: set[str] = set()

    @property
    def orders(self) -> PriorityBucket | None:
        """The shortest window's order bucket (None: the venue has no order limit)."""
        return self.order_buckets[0] if self.order_buckets else None

    def endpoint(self, path: str, ccxt_cost: float) -> PriorityBucket:
        """The per-UID bucket of one Bybit endpoint: limit/s = 50 / ccxt cost until the venue
        states the limit (`stated_limit`)."""
        with self._lock:
            return self._endpoint(path, ccxt_cost)

    def _endpoint(self, path: str, ccxt_cost: float) -> PriorityBucket:
        found = self._endpoints.get(path)
        if found is None:
            per_s = 50.0 / max(float(ccxt_cost or 1.0), 0.1)
            found = _bucket(f"{self.name} {path}", per_s, BYBIT_UID_WINDOW_S, self.share,
                            "requests", self._clock, self._sleep)
            self._endpoints[path] = found
        return found

    def stated_limit(self, path: str, limit: float | None, raw: object) -> None:
        """The venue stated this UID's per-second limit for `path` (Bybit's `X-Bapi-Limit`;
        `limit` its number, None if it is none): the endpoint's bucket runs at limit * share
        from now on, up or down. No positive number: ignored; absurdly high: taken at
        `BYBIT_UID_LIMIT_MAX` (each said once per endpoint)."""
        if limit is None or limit <= 0:
            self._odd(path, f"X-Bapi-Limit {raw!r} is no positive number: ignored")
            return
        if limit > BYBIT_UID_LIMIT_MAX:
            self._odd(path, f"X-Bapi-Limit {raw!r} is beyond any Bybit limit: taken as "
                            f"{BYBIT_UID_LIMIT_MAX:g}/s")
            limit = BYBIT_UID_LIMIT_MAX
        with self._lock:  # under the lock: two answers stating different limits apply in order
            if self._stated.get(path) == limit:
                return
            self._stated[path] = limit
            rate, capacity = _shape(limit, BYBIT_UID_WINDOW_S, self.share)
            self._endpoint(path, 0).retune(rate, capacity)

    def _odd(self, path: str, what: str) -> None:
        with self._lock:
            if path in self._odd_told:
                return
            self._odd_told.add(path)
        logger.warning("{} {}: {}", self.name, path, what)

    def status(self) -> dict[str, object]:
        with self._lock:
            out: dict[str, object] = {k: b.status() for k, b in self._endpoints.items()}
        for i, (limit, bucket) in enumerate(zip(self.limits.order_limits, self.order_buckets,
                                                strict=True)):
            out["orders" if i == 0 else f"orders_{limit.window_s:g}s"] = bucket.status()
        return out


class VenueBudget:
    """The buckets of one venue and IP, shared by every account on it in this process."""

    def __init__(self, limits: VenueLimits, share: float, *,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        if not 0 < share <= 1:
            raise ValueError(f"rate budget share must be in (0, 1], got {share}")
        self.limits, self.share = limits, share
        self._clock, self._sleep = clock, sleep
        self.ip = _bucket(f"{limits.venue} ip", limits.ip_limit, limits.ip_window_s, share,
                          limits.unit, clock, sleep)
        self._lock = threading.Lock()
        self._accounts: dict[str, AccountBudget] = {}

    def account(self, key: str) -> AccountBudget:
        with self._lock:
            found = self._accounts.get(key)
            if found is None:
                found = AccountBudget(f"{self.limits.venue} {key}", self.limits, self.share,
                                      self._clock, self._sleep)
                self._accounts[key] = found
            return found

    def status(self) -> dict[str, object]:
        with self._lock:
            accounts = dict(self._accounts)
        return {"venue": self.limits.venue, "share": self.share, "ip": self.ip.status(),
                "accounts": {k: a.status() for k, a in accounts.items()}}


class BudgetRegistry:
    """Venue budgets by (venue, API host): one per IP limit the process is subject to."""

    def __init__(self, blocks: VenueBlocks | None = None) -> None:
        self._lock = threading.Lock()
        self._venues: dict[tuple[str, str], VenueBudget] = {}
        self.blocks = blocks
        """Where IP blocks outlive the process (None: in memory only)."""

    def remember_blocks(self, blocks: VenueBlocks) -> None:
        """Keep IP blocks in `blocks` from now on (the bot's data dir; set before the
        gateways are built)."""
        self.blocks = blocks

    def venue(self, limits: VenueLimits, host: str, share: float, *,
              clock: Callable[[], float] = time.monotonic,
              sleep: Callable[[float], None] = time.sleep) -> VenueBudget:
        key = (limits.venue, host)
        with self._lock:
            found = self._venues.get(key)
            if found is None:
                found = VenueBudget(limits, share, clock=clock, sleep=sleep)
                self._venues[key] = found
                if self.blocks is not None:
                    self._keep_blocks(found, self.blocks, limits.venue, host)
            return found

    @staticmethod
    def _keep_blocks(budget: VenueBudget, blocks: VenueBlocks, venue: str, host: str) -> None:
        """A block an earlier process was told of still holds; later ones are written."""
        left = blocks.remaining(venue, host)
        if left > 0:
            budget.ip.block_for(left, refused=False)  # the file keeps no kind (_check_peers)
            logger.warning("{}: the venue blocked this IP before the restart; no request to it "
                           "for {:.0f} s more", venue, left)
        budget.ip.on_block = lambda seconds: blocks.note(venue, host, seconds)
        budget.ip.peer_blocks = lambda: blocks.remaining(venue, host)  # the other workers'


SHARED = BudgetRegistry()
"""The process's registry: every gateway built without its own shares this one, so accounts
on the same venue and host share one IP budget."""


VOLUME_EVERY_S = 60.0
"""How often the 24 h volumes are read where they cost a read of their own (Binance: ticker/24hr
for all symbols, weight 40; its REST prices come from the price ticker, weight 2), and only
while `strategy.min_volume` uses them (exchange/ccxt/rest_tickers.py): a day's volume moves
little in a minute."""


FEED_POLL_COST = {"binanceusdm": (7.0, "ticker/price for all symbols 2 + positionRisk 5"),
                  "bybit": (2.0, "tickers 1 + executions 1")}
FEED_POLL_COST["binance"] = FEED_POLL_COST["binanceusdm"]  # the same venue (limits_for)
"""What one REST feed poll costs on the venue (prices for every symbol, then own fills;
userTrades of symbols with activity come on top, seldom). Binance's prices come from its price
ticker, weight 2 (exchange/ccxt/rest_tickers.py); from ticker/24hr, weight 40, the feed could
poll only every 4.5 s at the default share."""
FEED_VOLUME_COST = {"binanceusdm": (40.0, "ticker/24hr for all symbols 40 a minute")}
FEED_VOLUME_COST["binance"] = FEED_VOLUME_COST["binanceusdm"]
"""The 24 h volumes' own read, once in VOLUME_EVERY_S, on venues whose prices come without
them, while `strategy.min_volume` uses them (`volumes`, runtime/exchanges.py reads_volumes)."""


def feed_volume_rate(exchange_id: str, volumes: bool) -> float:
    """What the feed's 24 h volume reads cost per second (0: none, or none of their own)."""
    if not volumes or exchange_id not in FEED_VOLUME_COST:
        return 0.0
    return FEED_VOLUME_COST[exchange_id][0] / VOLUME_EVERY_S


def fitting_poll_interval(exchange_id: str, poll_interval_s: float, share: float,
                          volumes: bool = False) -> float:
    """`poll_interval_s`, or the shortest interval whose REST feed fits the polling budget when
    `poll_interval_s` does not (used where REST is only the streams' fallback). Volume reads
    that alone take all of polling's part (a tiny share) leave the prices its whole part:
    those reads are then refused when nothing is left, said once (rest_tickers.py)."""
    if exchange_id not in FEED_POLL_COST:
        return poll_interval_s
    _, polling = _polling(exchange_id, share)
    spare = polling - feed_volume_rate(exchange_id, volumes)
    return max(poll_interval_s, FEED_POLL_COST[exchange_id][0] / (spare if spare > 0 else
                                                                  polling))


def _polling(exchange_id: str, share: float) -> tuple[VenueLimits, float]:
    """The venue's limits and what polling may spend of them per second: half the budget (the
    rest stays for protective calls, reconciliation and entries)."""
    limits = limits_for(exchange_id, 50)
    return limits, limits.ip_limit * share / limits.ip_window_s * 0.5


def _volumes_short(exchange_id: str, volume: float, polling: float, unit: str) -> str:
    return (f"the {exchange_id} feed's 24 h volumes alone ({FEED_VOLUME_COST[exchange_id][1]}, "
            f"for strategy.min_volume) need {volume:.2f} {unit}/s but polling may use "
            f"{polling:.2f}/s; raise exchange.rate_budget_share or set strategy.min_volume = 0")


def feed_shortfall(exchange_id: str, poll_interval_s: float, share: float,
                   volumes: bool = False) -> str | None:
    """One line naming the keys when the feed alone needs more than polling may spend (half
    the budget: the rest stays for protective calls, reconciliation and entries). `volumes`:
    the feed reads the 24 h volumes (`FEED_VOLUME_COST`)."""
    if exchange_id not in FEED_POLL_COST:
        return None
    cost, what = FEED_POLL_COST[exchange_id]
    limits, polling = _polling(exchange_id, share)
    volume = feed_volume_rate(exchange_id, volumes)
    need = cost / poll_interval_s + volume
    if need <= polling:
        return None
    lead = (f"exchange.poll_interval_s = {poll_interval_s:g} with exchange.rate_budget_share = "
            f"{share:g}: ")
    if volume >= polling:
        return lead + _volumes_short(exchange_id, volume, polling, limits.unit)
    also = f", and {FEED_VOLUME_COST[exchange_id][1]}" if volume else ""
    fastest = cost / (polling - volume)
    return (f"{lead}the {exchange_id} feed alone needs {need:.1f} {limits.unit}/s ({what} "
            f"per poll{also}) but polling may use {polling:.1f}/s; set exchange.poll_interval_s "
            f">= {fastest:.2f} or raise exchange.rate_budget_share")


def shared_feed_shortfall(exchange_id: str, feeds: dict[str, float], share: float,
                          volumes: Collection[str] = ()) -> str | None:
    """One line naming the accounts and keys when the REST feeds of several accounts on one
    venue budget (`feeds`: account -> its poll_interval_s; `volumes`: the accounts whose feed
    reads the 24 h volumes) together need more than polling may spend: they pay one budget,
    so each alone fitting is not enough."""
    if exchange_id not in FEED_POLL_COST or len(feeds) < 2:
        return None
    cost, what = FEED_POLL_COST[exchange_id]
    limits, polling = _polling(exchange_id, share)
    volume = sum(feed_volume_rate(exchange_id, name in volumes) for name in feeds)
    need = sum(cost / interval for interval in feeds.values()) + volume
    if need <= polling:
        return None
    names = ", ".join(feeds)
    if volume >= polling:
        return (f"accounts {names} pay one {exchange_id} rate budget: "
                + _volumes_short(exchange_id, volume, polling, limits.unit))
    intervals = ", ".join(f"{v:g}" for v in feeds.values())
    also = f", and {FEED_VOLUME_COST[exchange_id][1]} for some" if volume else ""
    return (f"accounts {names} pay one {exchange_id} rate budget: their REST feeds together "
            f"need {need:.1f} {limits.unit}/s ({what} per poll each{also}, "
            f"exchange.poll_interval_s = {intervals}) but polling may use {polling:.1f}/s at "
            f"exchange.rate_budget_share = {share:g}; set exchange.poll_interval_s >= "
            f"{len(feeds) * cost / (polling - volume):.2f} for each, raise "
            f"exchange.rate_budget_share or turn exchange.streams on")
