"""CcxtGateway: the `ExchangePort` over a real ccxt exchange (sync API).

Threads: each calling thread gets its own ccxt instance (see `instances.py` for why), all
sharing one markets dict and the venue's rate budget (priorities, fencing: `budget_hook.py`).
Numbers: inputs are rounded with ccxt's amount/price_to_precision and handed over as float
(amount, price) or str (trigger prices); results become the port's records (`convert.py`) and
ccxt's exceptions the port's errors (`errors.translated`), once, where they leave the gateway.

Order creation and ambiguity (write-ahead clientOrderId; `recovery.py`, `errors.classify`):
  - permanent error (a clear rejection) -> raised at once, never retried;
  - rate-limit / DDoS / nonce errors (the exchange refused before acting) -> backoff, resend
    with the SAME clientOrderId;
  - anything else (timeout, 5xx, connection dropped, unreadable answer, "execution status
    unknown") -> the order may exist: look it up by clientOrderId (twice, one backoff apart,
    for read lag). Found -> return it; not found, or the lookup failed -> `OrderOutcomeUnknown`
    (the caller reconciles later by clientOrderId). Never resent: a market order that filled
    no longer blocks a duplicate client id (Binance), so a resend could fill twice.
  - no clientOrderId given -> nothing can be looked up: `OrderOutcomeUnknown` at once.
"""

from __future__ import annotations

import random
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

import ccxt
from loguru import logger

from exchange.ccxt import budget_hook as bh
from exchange.ccxt import convert, lookup, markets_cache, own_fills, rest_tickers, venue_clock
from exchange.ccxt import order_params as op
from exchange.ccxt.answer_rows import Keep
from exchange.ccxt.client_id_memo import ClientIdMemo
from exchange.ccxt.errors import UNREADABLE, translated, unreadable
from exchange.ccxt.fresh_read import SAME_COST_FOR_ALL_POSITIONS, FreshRead
from exchange.ccxt.instances import InstancePool
from exchange.ccxt.leverage import LeverageMixin
from exchange.ccxt.own_fills import ActiveSymbols, OwnFills, all_pages
from exchange.ccxt.recovery import OrderRecoveryMixin, sparse
from exchange.ccxt.retry import Retrier
from exchange.ccxt.secrets import Credentials
from exchange.ccxt.stops import StopsMixin
from exchange.ccxt.venue_records import VenueRecords
from exchange.decimals import to_decimal
from exchange.records import (
    VenueBalance,
    VenueFill,
    VenueMarket,
    VenueOrder,
    VenuePosition,
    VenueTicker,
)
from exchange.venue_ids import USE_INSTEAD

REQUIRED_HAS = ("createOrder", "cancelOrder", "fetchPositions", "fetchBalance", "fetchTickers",
                "fetchMyTrades", "setLeverage")
TRIGGER_KEYS = ("stopLossPrice", "takeProfitPrice", "triggerPrice")


@bh.prioritized
class CcxtGateway(bh.ProtectiveStops, StopsMixin, OrderRecoveryMixin, ClientIdMemo,
                  VenueRecords, LeverageMixin):
    """ExchangePort + place_stop / move_stop / poll_updates over ccxt `exchange_factory()`."""
    def __init__(
        self,
        exchange_factory: Callable[[], ccxt.Exchange],
        *,
        credentials: Credentials | None = None,
        sandbox: bool = False,
        demo: bool = False,
        hedge_mode: bool = False,
        stop_mode: Literal["exchange", "bot"] = "exchange",
        markets_cache: Path | None = None,
        markets_max_age_s: float = 24 * 3600,
        rate_limit_per_s: float | None = None,
        rate_burst: float = 1.0,
        rate_budget_share: float = 0.5,
        budgets: bh.BudgetRegistry | None = None,
        max_waits: bh.MaxWaits | None = None,
        timeout_ms: int | None = None,
        symbols: list[str] | None = None,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
        max_attempts: int = 5,
        backoff_base_s: float = 0.5,
        backoff_max_s: float = 8.0,
        account: str | None = None,
        volume_every_s: float | None = rest_tickers.VOLUME_EVERY_S,
    ) -> None:
        self.account = account  # tags the lines logged in its calls (errors.translated)
        if stop_mode not in ("exchange", "bot"):
            raise ValueError(f"stop_mode must be 'exchange' or 'bot', got {stop_mode!r}")
        probe = exchange_factory()  # never used for requests: capabilities only
        if demo:  # and the host the IP budget is counted on: a testnet or demo account paid
            probe.enable_demo_trading(True)  # from (and was blocked with) the live host's
        elif sandbox:  # (both at once: refused by the instance pool, below)
            probe.set_sandbox_mode(True)
        self.id: str = probe.id
        self.hedge_mode, self.stop_mode, self.sandbox, self.demo = (hedge_mode, stop_mode,
                                                                   sandbox, demo)
        self._has, self._features = dict(probe.has), self._market_features(probe)
        self.venue = op.venue_for(self.id, self._features.get("createOrder"))
        self._symbols = list(symbols) if symbols else None
        self._unreadable_trades: set[tuple[Any, Any]] = set()
        """Trade rows the fills poll skipped as unreadable (each said once)."""
        self._said: set[str] = set()  # unreadable rows of untraded symbols, said once
        self._clock, self._credentials = clock, credentials
        self._cache_path = Path(markets_cache) if markets_cache else None
        self._cache_max_age_s = markets_max_age_s
        self.retry = Retrier(max_attempts=max_attempts, base_s=backoff_base_s,
                             max_s=backoff_max_s, sleep=sleep, rng=rng or random.Random(),
                             redactions=credentials.redaction_list() if credentials else ())
        self.bucket = bh.extra_cap(rate_limit_per_s, rate_burst, monotonic, sleep)
        self.meter = bh.meter_for(probe, budgets or bh.BudgetRegistry(), credentials,
                                  rate_budget_share, timeout_ms, max_waits or bh.MaxWaits(),
                                  (monotonic, sleep, clock))
        self._pool = InstancePool(exchange_factory, bucket=self.bucket, meter=self.meter,
                                  credentials=credentials, sandbox=sandbox, demo=demo,
                                  timeout_ms=timeout_ms, learned_keys=self.venue.learned_options)
        self.clock_sync = venue_clock.shared(self.meter.venue, self.id)  # the streams' too
        self._init_caches()
        self.tickers = rest_tickers.RestTickers(self.id, self._run, self._said, self._symbols,
                                                volume_every_s=volume_every_s, now=monotonic)
        self.validate()

    # ---------------------------------------------------------------- setup / capabilities
    def _init_caches(self) -> None:
        """Markets (loaded on first use), the client order id of each exchange order id (a
        bounded memo) and the own fills already reported."""
        self._markets: dict[str, Any] | None = None
        self._records: dict[str, VenueMarket] = {}
        self.left_out: dict[str, str] = {}  # why a listed market is not loaded: the start says
        self._cid_by_order: OrderedDict[tuple[str, str], str] = OrderedDict()
        self._cid_missing: OrderedDict[tuple[str, str], float] = OrderedDict()
        self._memo_lock = threading.Lock()  # guards the memos above
        self._markets_lock = threading.Lock()  # one markets load at a time
        self.active = ActiveSymbols(self._clock)  # whose trades to poll (Binance)
        required = (self._features.get("fetchMyTrades") or {}).get("symbolRequired")
        self.fills = OwnFills(self.active, symbol_required=bool(required), clock=self._clock)
        self._init_fee_prices()  # fees not in the settle currency (venue_records.py)
        self._all_positions = None if self.id not in SAME_COST_FOR_ALL_POSITIONS else FreshRead(
            lambda: self._run(lambda ex: lookup.shared_positions(
                ex, self._symbols, self._said), "fetch_positions"),
            wait_bound_s=self.meter.waits.reconcile_s + 2 * self.meter.timeout_s)

    @staticmethod
    def _market_features(probe: ccxt.Exchange) -> dict[str, Any]:
        features = getattr(probe, "features", None) or {}
        return dict((features.get("swap") or {}).get("linear") or {})

    @translated
    def validate(self) -> None:
        """Raise ccxt.NotSupported with a one-line reason if this exchange can't serve the bot."""
        if self.id in USE_INSTEAD:
            raise ccxt.NotSupported(f"use the ccxt id {USE_INSTEAD[self.id]!r} instead of "
                                    f"{self.id!r} for this venue's linear perpetuals")
        missing = [name for name in REQUIRED_HAS if not self._has.get(name)]
        if not (self._has.get("fetchOrder") or self._has.get("fetchOpenOrders")):
            missing.append("fetchOrder|fetchOpenOrders")
        if missing:
            raise ccxt.NotSupported(f"{self.id} lacks required capability: {', '.join(missing)}")
        if (closes := op.closes_impossible_reason(self.id, self._has)) is not None:
            raise ccxt.NotSupported(closes)  # in either stop mode
        reason = op.stop_impossible_reason(self.venue, self._features.get("createOrder"))
        if reason and self.stop_mode == "exchange":
            raise ccxt.NotSupported(
                f"{self.id} cannot place a reduce-only stop-market ({reason}); "
                "use stop_mode='bot' to let the bot manage stops"
            )
        if reason:
            logger.warning("!!! {} has NO reduce-only exchange stop ({}); stop_mode='bot': stops "
                           "live only in the bot and die with it !!!", self.id, reason)
        self._stop_reason = reason
        try:
            self._pool.new_instance()  # applies sandbox/demo: refuses unsupported modes
        except (ccxt.NotSupported, KeyError) as exc:
            mode = "demo" if self.demo else "sandbox"
            raise ccxt.NotSupported(f"{self.id} does not support {mode} mode: {exc}") from None

    def __repr__(self) -> str:
        creds = "set" if self._credentials else "none"
        return (f"CcxtGateway(id={self.id!r}, sandbox={self.sandbox}, demo={self.demo}, "
                f"hedge_mode={self.hedge_mode}, stop_mode={self.stop_mode!r}, credentials={creds})")

    __str__ = __repr__

    def status(self) -> dict[str, Any]:
        """Operational status (never contains credentials)."""
        return {"id": self.id, "markets_loaded": self._markets is not None, "budget":
                self.meter.venue.status(), "instances": self._pool.instance_count(),
                "stop_mode": self.stop_mode, "exchange_stops": self._stop_reason is None,
                "credentials": "set" if self._credentials else "none",
                "requests": self.meter.requests}

    def exchange_for_current_thread(self) -> ccxt.Exchange:
        """The calling thread's own ccxt instance (markets loaded)."""
        self._ensure_markets()
        return self._pool.get()

    # ---------------------------------------------------------------- plumbing
    def _run(self, fn: Callable[[ccxt.Exchange], Any], what: str) -> Any:
        def attempt() -> Any:
            ex = self._pool.get()
            signed = self.clock_sync.apply(ex)
            try:
                result = fn(ex)
            except UNREADABLE as exc:  # a TypeError out of the port failed every symbol's read
                raise unreadable(exc, f"{self.id} {what}") from exc
            except ccxt.InvalidNonce as exc:  # refused for its timestamp: the retry signs
                self.clock_sync.refused(ex, exc, signed)  # with the venue's time
                raise
            self._pool.remember_learned(ex)
            return result

        return self.retry.run(attempt, what)

    def _ensure_markets(self) -> dict[str, Any]:
        return self._markets if self._markets is not None else self.load_markets()

    def markets(self) -> dict[str, Any]:
        """ccxt's loaded markets dict (loaded once if it was not), read-only: a ccxt.pro
        instance of the same exchange takes it (`set_markets`), so startup loads markets once."""
        self._ensure_markets()
        assert self._markets is not None
        return self._markets

    @translated
    def load_markets(self, reload: bool = False) -> dict[str, VenueMarket]:
        """Every market ccxt could read (one without precision is left out: not tradable).
        One load at a time: threads that ask meanwhile (the stream thread sharing the markets,
        the feed, actors) wait for it instead of each loading through the rate budget."""
        with self._markets_lock:
            if self._markets is not None and not reload:
                return dict(self._records)
            key = self.id + ("/sandbox" if self.sandbox else "/demo" if self.demo else "")
            markets = markets_cache.load_or_fetch(
                self._cache_path, key, self._fetch_markets,
                max_age_s=0.0 if reload else self._cache_max_age_s,
                now_ms=lambda: int(self._clock() * 1000),
                check=self._pool.check_markets)
            self._pool.set_markets(markets)
            loaded = self._pool.get().markets
            tick_mode = self._pool.get().precisionMode == ccxt.TICK_SIZE
            records, left_out = convert.markets(loaded, tick_size_mode=tick_mode)
            for symbol, why in left_out.items():
                logger.debug("{} market {} left out: {}", self.id, symbol, why)
            self._records, self.left_out = records, left_out
            self._markets = loaded  # last: a reader that sees it finds the records too
            return dict(records)

    def _fetch_markets(self) -> dict[str, Any]:
        has_cache = self._cache_path is not None and self._cache_path.exists()
        if has_cache:  # one attempt: a slow exchange falls back to the cache at once
            ex = self._pool.get()
            self.clock_sync.apply(ex)
            return self.retry.once(lambda: ex.load_markets(True))  # its errors masked too
        return self._run(lambda ex: ex.load_markets(True), "load_markets")

    @translated
    def market(self, symbol: str) -> VenueMarket:
        self._ensure_markets()
        found = self._records.get(symbol)
        if found is None:
            self._pool.get().market(symbol)  # raises BadSymbol for a market ccxt does not list
            why = self.left_out.get(symbol, "no amount/price precision")  # as it was read
            raise ccxt.BadResponse(f"{self.id} market {symbol} left out: {why}")
        return found

    @translated
    def amount_to_precision(self, symbol: str, amount: Decimal) -> Decimal:
        self._ensure_markets()
        return to_decimal(self._pool.get().amount_to_precision(symbol, op.num(to_decimal(amount))))

    @translated
    def price_to_precision(self, symbol: str, price: Decimal) -> Decimal:
        self._ensure_markets()
        return to_decimal(self._pool.get().price_to_precision(symbol, op.num(to_decimal(price))))

    def _settle(self, symbol: str) -> str | None:
        return market.settle if (market := self._records.get(symbol)) is not None else None

    # ---------------------------------------------------------------- reads
    @translated
    def fetch_tickers(self, symbols: list[str] | None = None) -> dict[str, VenueTicker]:
        self._ensure_markets()
        return self.tickers.read(symbols)  # (Binance: prices weigh 2, rest_tickers.py)

    @translated
    def fetch_balance(self, params: dict[str, Any] | None = None) -> VenueBalance:
        self._ensure_markets()
        return convert.balance(self._run(lambda ex: ex.fetch_balance(dict(params or {})),
                                         "fetch_balance"))

    @translated
    def fetch_positions(self, symbols: list[str] | None = None,
                        params: dict[str, Any] | None = None) -> list[VenuePosition]:
        """Open positions only (venues also list flat ones)."""
        self._ensure_markets()
        shared = self._all_positions if not params else None
        reads = [dict(params or {})] if symbols is not None else lookup.settle_reads(
            self.venue, self._markets, self._symbols, params)  # Bybit: one per settle coin
        raw = lookup.of_symbols(shared.get(), symbols) if shared is not None else self._run(
            lambda ex: lookup.positions(ex, self.venue, symbols, reads, self.hedge_mode,
                                        Keep(symbols or self._symbols, self._said)),
            "fetch_positions")
        positions = convert.positions(raw, self.id, symbols, self._said, self._symbols)
        self.active.observed(positions, None if shared is not None else symbols)
        return [p for p in positions if symbols is None or p.symbol in symbols]

    @translated
    def fetch_my_trades(self, symbol: str | None = None, since: int | None = None,
                        limit: int | None = None,
                        params: dict[str, Any] | None = None) -> list[VenueFill]:
        """With `since` and no `limit`: every trade since then (own_fills.since_windows)."""
        self._ensure_markets()
        since = since if since is None else self.clock_sync.earlier(since)  # venue's clock
        reads = own_fills.with_forced(self.venue.lookup, symbol, dict(params or {}))
        if since is None or limit is not None:
            trades = own_fills.merged(self._run(own_fills.trades_read(symbol, since, limit, p),
                                                "fetch_my_trades") for p in reads)
        else:
            now_ms, style = int(self._clock() * 1000), self.venue.lookup
            trades = own_fills.merged(own_fills.since_windows(
                own_fills.pages(self._run, symbol, p), style, since, now_ms) for p in reads)
        return [self._fill(own_fills.timed(t)) for t in trades]

    @translated
    def fetch_open_orders(self, symbol: str | None = None, since: int | None = None,
                          limit: int | None = None,
                          params: dict[str, Any] | None = None) -> list[VenueOrder]:
        self._ensure_markets()
        raw = self._open_rows(symbol, since, limit, params)  # (venue_records.py)
        return self._orders_of(raw, [symbol] if symbol is not None else self._symbols)

    @translated
    def fetch_order(self, id: str | None, symbol: str,
                    params: dict[str, Any] | None = None) -> VenueOrder:
        self._ensure_markets()
        params = params or {}
        cid = params.get("clientOrderId")
        found = self._find(symbol, id, cid, params.get("trigger"))
        if found is None:
            raise ccxt.OrderNotFound(f"{self.id} order id={id} clientOrderId={cid} not found "
                                     f"on {symbol}")
        return self._order(found)

    def _find(self, symbol, order_id, cid, trigger_hint, plain=False) -> dict[str, Any] | None:
        return self._run(lambda ex: lookup.find_order(
            ex, self.venue, symbol, order_id=order_id, client_order_id=cid,
            trigger_hint=trigger_hint, plain_only=plain), "fetch_order")

    @translated
    def poll_updates(self, since_ms: int, symbols: list[str] | None = None, *,
                     forced: bool = False) -> list[VenueFill]:
        """New own fills since `since_ms` (each trade once), oldest first. `forced`: also those no
        order of ours made (own_fills.poll_reads; any poll reads them every FORCED_EVERY_S)."""
        self._ensure_markets()
        wanted = symbols if symbols is not None else self._symbols
        if self.fills.symbol_required and not wanted:
            raise ccxt.ArgumentsRequired(f"{self.id} needs symbols to poll own trades")
        shared = self._all_positions  # Binance's one read: active.read_shared
        read = self.fetch_positions if shared is None else lambda: self.active.read_shared(
            shared.get(), self._symbols, self.id, self._said)
        return self.fills.poll(self.clock_sync.earlier(since_ms), wanted, read, self._own_trades,
                               forced)

    def _own_trades(self, symbol: str | None, since: int, forced: bool = False
                    ) -> list[VenueFill]:
        """Every own trade of `symbol` (None: all) since `since`, all pages."""
        style = self.venue.lookup
        trades = own_fills.merged(all_pages(own_fills.pages(self._run, symbol, p), style, since)
                                  for p in own_fills.poll_reads(style, forced))
        fills = []
        for t in trades:
            try:
                fills.append(self._fill(own_fills.timed(t)))
            except ccxt.BadResponse as exc:
                # one unreadable row failed every poll (its start never passed it). Skipped,
                # said once; its position change is found by the reconciliation or the sweep
                key = (t.get("symbol"), t.get("id"))
                if key not in self._unreadable_trades:
                    self._unreadable_trades.add(key)
                    logger.warning("{}: skipped an unreadable trade in the fills poll: {}; "
                                   "the reconciliations read that symbol's position", self.id,
                                   exc)
        return fills

    # ---------------------------------------------------------------- orders
    @translated
    def create_order(self, symbol: str, type: str, side: str, amount: Decimal,
                     price: Decimal | None = None,
                     params: dict[str, Any] | None = None) -> VenueOrder:
        self._ensure_markets()
        ccxt_params = op.translate(self.venue, side, params, hedge_mode=self.hedge_mode)
        is_stop = any(k in ccxt_params for k in TRIGGER_KEYS)
        return self._order(self._submit(symbol, type, side, amount, price, ccxt_params, is_stop,
                                        reducing=op.is_reducing(side, params)), sent=True)

    def _submit(self, symbol, type_, side, amount, price, params, is_stop,
                reducing: bool | None = None) -> dict[str, Any]:
        cid = params.get("clientOrderId")
        if cid is not None:
            op.validate_client_order_id(self.venue, cid)
        ex = self._pool.get()
        op.check_features(self.id, params, self._features.get("createOrder"), ex.has)
        amt = self.amount_to_precision(symbol, amount)
        px = self.price_to_precision(symbol, price) if price is not None else None
        for key in TRIGGER_KEYS:
            if params.get(key) is not None:
                params[key] = op.num(self.price_to_precision(symbol, to_decimal(params[key])))
        ref = px if px is not None else next(
            (to_decimal(params[k]) for k in TRIGGER_KEYS if params.get(k) is not None), None)
        if reducing is None:
            reducing = bool(params.get("reduceOnly"))
        self._check_minimums(symbol, amt, ref, reducing)
        self.active.ordered(symbol)
        order = self._create_with_recovery(symbol, type_, side, amt, px, params, cid, is_stop)
        if sparse(order):
            order = self._refetch(symbol, order, cid, is_stop, defaults={
                "symbol": symbol, "type": type_, "side": side, "amount": amt, "price": px,
                "clientOrderId": cid, "status": "open", "reduceOnly": params.get("reduceOnly")})
        self._remember_cid(order)
        return order

    @translated
    def cancel_order(self, id: str | None, symbol: str,
                     params: dict[str, Any] | None = None) -> VenueOrder:
        self._ensure_markets()
        params = params or {}
        cid, hint = params.get("clientOrderId"), params.get("trigger")
        order = self._run(lookup.canceller(self.venue, symbol, id, cid, hint),
                          f"cancel_order {symbol} {id or cid}")
        if sparse(order):
            order = self._refetch(symbol, order, cid or order.get("clientOrderId"), hint,
                                  defaults={"id": id, "clientOrderId": cid, "symbol": symbol,
                                            "status": "canceled"})
        return self._order(self._cancel_fees(order), sent=True)

    def close(self) -> None:
        self._pool.close_all()

