"""One ccxt instance per calling thread, all sharing markets and one rate limit.

Why: a sync ccxt instance is not thread-safe (its `throttle()` keeps unsynchronised state and
it owns one `requests.Session`), and one actor thread per symbol calls the gateway
concurrently. Alternatives rejected: one shared instance behind a lock serialises every symbol
behind the slowest request; a pool of N instances still needs a lock-protected checkout and
gives no benefit over a per-thread instance, which needs no locking at all on the hot path.

So: `InstancePool.get()` returns the calling thread's own instance, creating it on first use
with the injected factory, then:
  - credentials, timeout, sandbox / demo mode applied;
  - `enableRateLimit = False` (ccxt's per-instance throttle would not limit the aggregate) and
    the instance's `fetch2` (the single funnel every REST request of ccxt goes through) wrapped
    so it first spends the request's units from the venue budget shared by every account on
    the venue (`exchange/budget_meter.py`: priority, fence, liveness), and after the answer
    hands the venue's usage headers and HTTP status back to it (a refusal for rate that ccxt
    raised as another class is raised as `RateLimitExceeded`); an optional extra
    `TokenBucket` in ccxt cost units (`rate_limit_per_s`) is waited on as well. No lock is
    held while sleeping;
  - the markets of one template instance (ccxt's `set_markets_from_exchange`: the same dicts,
    shared read-only), so markets are fetched (or read from the cache) and parsed once. Each
    instance parsing them itself (`set_markets`, a deep copy of every market) cost ~64 us per
    market per thread: at 500 symbols 32 ms CPU and ~4 MB for each of the 500 actor threads,
    16 s CPU and 2 GB at start, growing with symbols x threads;
  - options an instance learns from the exchange (e.g. Bybit's unified-account status) and
    that other instances would otherwise re-fetch are copied in from `learned`.
"""

from __future__ import annotations

import asyncio
import math
import threading
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import ccxt

from exchange.budget import Priority, call_priority, current_priority
from exchange.budget_meter import PREEMPTIBLE_STEP_S, RequestMeter
from exchange.budget_venues import cost_config
from exchange.ccxt.rate_limit import TokenBucket
from exchange.ccxt.secrets import Credentials
from exchange.fence import check_fence, check_preempted, in_preemptible, waiting


class InstancePool:
    """Thread-local ccxt instances built by `factory`. An instance whose thread has ended (a
    replaced actor incarnation, an emergency-close thread) is dropped and its HTTP session
    closed when the next instance is made: kept, each restart added one instance and its
    keep-alive sockets for good."""

    def __init__(
        self,
        factory: Callable[[], ccxt.Exchange],
        *,
        bucket: TokenBucket | None,
        meter: RequestMeter | None = None,
        credentials: Credentials | None,
        sandbox: bool,
        demo: bool,
        timeout_ms: int | None,
        learned_keys: tuple[str, ...] = (),
    ) -> None:
        self._factory = factory
        self._bucket = bucket
        self._meter_of = meter
        self._credentials = credentials
        self._sandbox = sandbox
        self._demo = demo
        self._timeout_ms = timeout_ms
        self._learned_keys = learned_keys
        self._learned: dict[str, Any] = {}
        self._local = threading.local()
        self._lock = threading.Lock()
        self._all: list[tuple[threading.Thread, ccxt.Exchange]] = []
        self._markets: ccxt.Exchange | None = None  # the template holding the parsed markets

    def set_markets(self, markets: dict[str, Any]) -> None:
        """Share `markets` with every instance, existing and future: parsed once, on a template
        instance that sends nothing, whose dicts every instance then refers to."""
        template = self._factory()
        _close([template])  # its HTTP session: it never sends
        template.set_markets(markets)
        with self._lock:
            self._markets = template
            existing = [inst for _, inst in self._all]
        for inst in existing:  # other threads' instances: only touched here, at (re)load
            inst.set_markets_from_exchange(template)

    def new_instance(self) -> ccxt.Exchange:
        """A configured instance not bound to any thread (used for validation/market load)."""
        inst = self._factory()
        if self._timeout_ms is not None:
            inst.timeout = int(self._timeout_ms)
        if self._credentials is not None:
            inst.apiKey = self._credentials.api_key
            inst.secret = self._credentials.secret
        if self._sandbox:
            inst.set_sandbox_mode(True)
        if self._demo:
            inst.enable_demo_trading(True)
        inst.enableRateLimit = False
        bound_recv_window(inst)
        allow_all_symbol_open_orders(inst)
        fence_sends(inst)
        json_answers(inst)
        list_answers(inst)
        record_status(inst)
        self._meter(inst)
        return inst

    def check_markets(self, markets: dict[str, Any]) -> None:
        """Raise what ccxt raises on `markets` it cannot take (a damaged cache), on a scratch
        instance that sends nothing."""
        inst = self._factory()
        try:
            inst.set_markets(markets)
        finally:
            _close([inst])

    def get(self) -> ccxt.Exchange:
        """The calling thread's instance."""
        inst = getattr(self._local, "exchange", None)
        if inst is not None:
            return inst
        inst = self.new_instance()
        with self._lock:
            markets = self._markets
            inst.options.update(self._learned)
            ended = [old for thread, old in self._all if not thread.is_alive()]
            self._all = [(t, i) for t, i in self._all if t.is_alive()]
            self._all.append((threading.current_thread(), inst))
        _close(ended)
        while markets is not None:
            inst.set_markets_from_exchange(markets)
            with self._lock:  # a reload meanwhile handed `inst` its template before this one:
                if self._markets is markets:  # found by review, it kept the markets of before
                    break
                markets = self._markets
        self._local.exchange = inst
        return inst

    def remember_learned(self, inst: ccxt.Exchange) -> None:
        """Copy options `inst` learned from the exchange so new instances start with them."""
        if not self._learned_keys:
            return
        found = {k: inst.options[k] for k in self._learned_keys if inst.options.get(k) is not None}
        if found and any(self._learned.get(k) != v for k, v in found.items()):
            with self._lock:
                self._learned.update(found)

    def instance_count(self) -> int:
        with self._lock:
            return len(self._all)

    def close_all(self) -> None:
        with self._lock:
            instances, self._all = [inst for _, inst in self._all], []
        _close(instances)
        self._local = threading.local()

    def _meter(self, inst: ccxt.Exchange) -> None:
        bucket, meter = self._bucket, self._meter_of
        inner = inst.fetch2

        def metered_fetch2(path, api="public", method="GET", params={}, config={}):  # noqa: B006
            cost = inst.calculate_rate_limiter_cost(api, method, path, params, cost_config(
                inst.id, api, method, path, config))  # (the venue's weight where ccxt errs)
            units = float(cost) if cost else 1.0
            waited = 0.0
            if meter is not None:
                waited = meter.before(api, method, path, units)
            if bucket is not None:
                try:
                    _extra_cap(bucket, meter, (inst.timeout or 10_000) / 1000, units, waited)
                except BaseException:  # refused, set aside or fenced while it waited: not
                    # sent, what the rate budget booked comes back
                    if meter is not None:
                        meter.give_back(api, method, path, units)
                    raise
            if meter is None:
                return inner(path, api, method, params, config)
            inst.last_response_headers = inst.last_http_status = None
            try:
                result = inner(path, api, method, params, config)
            except ccxt.BaseError as exc:
                instead = _answered(meter, inst, api, path, exc)
                if instead is not None:
                    raise instead from exc
                raise
            _answered(meter, inst, api, path, None)
            return result

        inst.fetch2 = metered_fetch2


def _extra_cap(bucket: TokenBucket, meter: RequestMeter | None, timeout_s: float,
               units: float, waited: float) -> None:
    """Wait in the optional extra cap (`rate_limit_per_s`): a protective call only behind
    protective ones (rate_limit.py), a lower one at most what its bound leaves after the
    rate budget's wait; the wait and the request after it are announced to the actor's
    liveness mark."""
    priority = current_priority()
    bound = math.inf if meter is None else meter.waits.of(priority) - waited

    def hold(seconds: float) -> None:
        """As the rate budget's waits (RequestMeter._hold): fenced, a reconciliation set
        aside for an order report in steps of PREEMPTIBLE_STEP_S (it waited its whole turn,
        20 s behind a ticker poll at rate_limit_per_s = 2, the report behind it)."""
        check_fence()
        if priority is not Priority.PROTECTIVE:
            check_preempted()
        waiting(seconds + timeout_s)

    bucket.acquire(units, protective=priority is Priority.PROTECTIVE, before_sleep=hold,
                   max_wait_s=bound, what=f"{priority.name.lower()} call",
                   step_s=PREEMPTIBLE_STEP_S if in_preemptible() else math.inf)


def _close(instances: list[ccxt.Exchange]) -> None:
    for inst in instances:
        session = getattr(inst, "session", None)
        if session is not None:
            session.close()


def allow_all_symbol_open_orders(inst: ccxt.Exchange) -> None:
    """The all-symbol open-order read is the sweep's (actors/exchange_sweep.py), once per
    sweep interval, its weight (40 on Binance) spent from the budget like any other; ccxt's
    Binance classes refuse it unless told the caller knows the cost."""
    settings = inst.options.get("fetchOpenOrders")
    if isinstance(settings, dict) and "warnWithoutSymbol" in settings:
        inst.options["fetchOpenOrders"] = {**settings, "warnWithoutSymbol": False}


def bound_recv_window(inst: ccxt.Exchange) -> None:
    """The venue refuses a signed request that reaches it later than `recvWindow` after its
    timestamp: never allow more than our own request timeout. A request we would have given
    up on cannot then act late, and on a cluster node (timeout = the takeover grace) a request
    signed before the lease ran out and held up past the grace (a process stopped between its
    last fence check and the socket write) is refused by the venue itself."""
    window = inst.options.get("recvWindow")
    if isinstance(window, int) and inst.timeout and inst.timeout < window:
        inst.options["recvWindow"] = int(inst.timeout)


def fence_sends(inst: ccxt.Exchange) -> None:
    """Check the calling incarnation's fence (and on a cluster node its account lease) after
    ccxt signed a request and just before it goes on the wire: the last moment our side can
    stop it (exchange/fence.py). With `bound_recv_window` this leaves no late send."""
    inner = inst.fetch

    def fenced_fetch(url, method="GET", headers=None, body=None):  # noqa: ANN001, ANN202
        check_fence()
        return inner(url, method, headers, body)

    inst.fetch = fenced_fetch


JSON_VENUES = frozenset({"bybit", "binance", "binanceusdm"})
"""Venues whose every REST answer is a JSON object or array (Bybit v5, Binance)."""


def json_answers(inst: ccxt.Exchange) -> None:
    """On a JSON_VENUES instance, an answer that is not JSON (an HTML page or an empty body
    with HTTP 200, from a proxy, a CDN or the venue's own front end; a bare `null`) raises
    `ccxt.BadResponse` naming the method and the path (never the query: it carries the
    signature). ccxt hands such a body to its parsers as a string: Bybit's read it as an empty
    list (no positions, no open orders, no trades, an empty balance), Binance's raised
    AttributeError out of the gateway (a create that had landed was never looked up)."""
    if inst.id not in JSON_VENUES:
        return
    inner = inst.fetch

    def json_fetch(url, method="GET", headers=None, body=None):  # noqa: ANN001, ANN202
        answer = inner(url, method, headers, body)
        if isinstance(answer, dict | list):
            return answer
        text = " ".join(str(answer).split())[:80]
        raise ccxt.BadResponse(f"{inst.id} {method} {urlsplit(url).path}: the answer is not "
                               f"JSON: {text!r}")

    inst.fetch = json_fetch


BYBIT_LIST_PATHS = frozenset({
    "/v5/position/list", "/v5/order/realtime", "/v5/order/history", "/v5/execution/list",
    "/v5/account/wallet-balance", "/v5/market/tickers", "/v5/market/instruments-info",
})
"""Bybit v5 reads whose answer (retCode 0) always carries `result.list`, empty or not."""
BYBIT_WALLET = "/v5/account/wallet-balance"
"""Its list always holds the account asked for (ccxt read an empty one as no funds at all)."""
BINANCE_LIST_PATHS = frozenset({
    "/fapi/v3/positionRisk", "/fapi/v2/positionRisk", "/fapi/v1/openOrders",
    "/fapi/v1/openAlgoOrders", "/fapi/v1/userTrades", "/fapi/v1/income", "/fapi/v1/allOrders",
    "/fapi/v2/balance",
})
"""Binance USDⓈ-M reads whose answer is always a JSON array, empty or not."""
BINANCE_ACCOUNT_PATHS = frozenset({"/fapi/v3/account", "/fapi/v2/account"})
"""Binance USDⓈ-M account reads, whose answer always carries its `assets` array."""
BINANCE_ALL_SYMBOL_PATHS = frozenset({"/fapi/v1/ticker/24hr", "/fapi/v2/ticker/price"})
"""Binance USDⓈ-M reads that answer an array when asked without a symbol (an object with)."""


def _missing_list(exchange_id: str, path: str, answer: Any, query: str = "") -> str | None:
    """What a list read's answer lacks (None: it has its list, or is no such read)."""
    if exchange_id == "bybit" and path in BYBIT_LIST_PATHS and isinstance(answer, dict):
        result = answer.get("result")
        if not isinstance(result, dict) or not isinstance(result.get("list"), list):
            shown = "null" if result is None else "without a list"
            return f"retCode {answer.get('retCode')} with a result {shown}"
        if path == BYBIT_WALLET and not result["list"]:  # it always lists the account
            return "a wallet balance that lists no account"
    if exchange_id in ("binance", "binanceusdm"):
        all_symbols = path in BINANCE_ALL_SYMBOL_PATHS and "symbol" not in parse_qs(query)
        if (path in BINANCE_LIST_PATHS or all_symbols) and not isinstance(answer, list):
            return "an object where the venue answers an array"
        if path in BINANCE_ACCOUNT_PATHS and not (
                isinstance(answer, dict) and isinstance(answer.get("assets"), list)):
            return "an account without its assets"
    return None


def list_answers(inst: ccxt.Exchange) -> None:
    """A list read answered without its list raises `ccxt.BadResponse` naming the path: on
    Bybit retCode 0 with `result` null or without `list`; on Binance an object for an array
    (or an account without `assets`). ccxt 4.5.90 reads these as an empty list (Bybit:
    `safe_dict(response, 'result', {})`, `safe_list(result, 'list', [])`; Binance iterates
    the object): no positions, no open orders, an order not found, no trades, an empty
    balance, where the venue said nothing readable (an empty position answer is taken as a
    position gone). Error answers never get here: ccxt raised them already."""
    if inst.id not in ("bybit", "binance", "binanceusdm"):
        return
    inner = inst.fetch

    def list_fetch(url, method="GET", headers=None, body=None):  # noqa: ANN001, ANN202
        answer = inner(url, method, headers, body)
        parts = urlsplit(url)
        path = parts.path
        missing = _missing_list(inst.id, path, answer, parts.query)
        if missing is not None:
            raise ccxt.BadResponse(f"{inst.id} {method} {path}: {missing}")
        return answer

    inst.fetch = list_fetch


def record_status(inst: Any) -> None:
    """Keep the HTTP status of the instance's last answer as `last_http_status` (ccxt keeps
    only its headers and body); every answer passes `on_rest_response`."""
    inner = inst.on_rest_response

    def on_rest_response(code, *rest):  # noqa: ANN001, ANN002, ANN202
        inst.last_http_status = code
        return inner(code, *rest)

    inst.on_rest_response = on_rest_response


def _answered(meter: RequestMeter, inst: Any, api: object, path: str,
              exc: BaseException | None) -> ccxt.BaseError | None:
    """Hand the venue's answer to the meter (usage headers; a rate-limit refusal blocks the
    budget). Returns the error to raise instead of `exc`: a refusal for rate that ccxt raised
    as another class (Bybit's IP ban with a JSON body: plain ExchangeError), which must be
    retried later, never taken as permanent."""
    limited = isinstance(exc, ccxt.RateLimitExceeded | ccxt.DDoSProtection)
    refused = meter.after(api, path, inst.last_response_headers, rate_limited=limited,
                          status=getattr(inst, "last_http_status", None),
                          error="" if exc is None else str(exc))
    if exc is not None and refused and not limited:
        return ccxt.RateLimitExceeded(str(exc))
    return None


def _protective_before(meter: RequestMeter, api: object, method: str, path: str,
                       units: float) -> None:
    with call_priority(Priority.PROTECTIVE):  # an executor thread: no context of its caller
        meter.before(api, method, path, units)


def meter_streams(inst: Any, meter: RequestMeter) -> None:
    """A ccxt.pro instance's own REST calls (Binance's listenKey create and its keepalive every
    20 minutes) spend from the same venue budget as the gateway's, at protective priority (no
    actor scope: nothing to fence): they are rare and bring the order stream back, so they
    never wait behind the reconciliations that fill the budget while the streams are down (at
    reconcile priority a reconnect starved for minutes). A budget wait runs on a worker
    thread, so the stream's event loop keeps delivering meanwhile."""
    record_status(inst)
    inner = inst.fetch2

    async def metered_fetch2(path, api="public", method="GET", params={}, config={}):  # noqa: B006
        cost = inst.calculate_rate_limiter_cost(api, method, path, params, cost_config(
            inst.id, api, method, path, config))
        units = float(cost) if cost else 1.0
        await asyncio.get_running_loop().run_in_executor(
            None, _protective_before, meter, api, method, path, units)
        inst.last_response_headers = inst.last_http_status = None
        try:
            result = await inner(path, api, method, params, config)
        except ccxt.BaseError as exc:
            instead = _answered(meter, inst, api, path, exc)
            if instead is not None:
                raise instead from exc
            raise
        _answered(meter, inst, api, path, None)
        return result

    inst.fetch2 = metered_fetch2
