"""The venue side of the live chaos run (tests/e2e/live_chaos.py): one venue's emulators over
one book on the wall clock, answering order calls late (or held past the bot's timeout), and
the test's drivers of the market: prices in trends (`Mover`) and entry signals for flat symbols
(`Opener`)."""

from __future__ import annotations

import json
import random
import threading
import time
import urllib.request
from decimal import Decimal
from pathlib import Path
from typing import Any

from tests.e2e.chaos_signals import TOKEN
from tests.exchange.ccxt.ccxt_fixtures import API_KEY, API_SECRET, PRICES
from tests.exchange.ccxt.emu_binance import BinanceVenue
from tests.exchange.ccxt.emu_book import Book, EmuOrder, EmuTrade
from tests.exchange.ccxt.emu_bybit import BybitVenue
from tests.exchange.ccxt.emu_server import EmulatorServer
from tests.exchange.ccxt.ws_emu_binance import start_binance_ws
from tests.exchange.ccxt.ws_emu_bybit import start_bybit_ws

LIVE_SYMBOLS = ["BTC/USDT:USDT", "ETH/USDT:USDT"]
NATIVE = {"BTC/USDT:USDT": "BTCUSDT", "ETH/USDT:USDT": "ETHUSDT"}
TICKS = {"BTCUSDT": Decimal("0.1"), "ETHUSDT": Decimal("0.01")}
LATENCY_S = 0.1
TIMEOUT_MS = 5000
HOLD_S = TIMEOUT_MS / 1000 + 0.5
ORDER_PATHS = {"/v5/order/create", "/v5/order/amend", "/v5/order/cancel",
               "/fapi/v1/order", "/fapi/v1/algoOrder"}
CREATE_IDS = {("POST", "/v5/order/create"): "orderLinkId",
              ("POST", "/fapi/v1/order"): "newClientOrderId",
              ("POST", "/fapi/v1/algoOrder"): "clientAlgoId"}
START_BALANCE = Decimal("10000")
SECRET_PARAMS = {"signature", "apiKey", "api_key", "sign"}
"""Request parameters never written to a run directory (the requests are signed)."""
EIGHT = Decimal("1E-8")


class WallBook(Book):
    """The shared book on the wall clock: the base book adds a second per event, which put the
    venue's clock minutes ahead of this machine's within a run."""

    fill_limits = False
    """Resting limit orders fill once the market reaches their price, at that price (a limit
    placed through the market fills at once at the market, as a taker): the hedge grid's levels
    and take-profits. The base book rests them for ever: a live grid chaos run (seeds 4621,
    4622) had no level and no take-profit fill, only entries and stops."""

    def tick(self) -> int:
        self.now_ms = max(self.now_ms + 1, int(time.time() * 1000))
        return self.now_ms

    _rounding = Decimal(0)

    def emit(self, kind: str, obj: object) -> None:
        """A trade's P&L as a venue reports it, to 8 decimals (Bybit's execPnl): the book's
        average entry of a leg a level grew is a division, and its P&L carried 28 digits
        (-2.90600000000000000000000002) where the bot, computing it, booked -2.90600000 (a
        false ledger violation of a live grid run, seed 4624). The wallet books the same."""
        if kind == "trade" and isinstance(obj, EmuTrade):
            reported = obj.realized.quantize(EIGHT)
            self._rounding += reported - obj.realized
            obj.realized = reported
        super().emit(kind, obj)

    def _fill(self, order: EmuOrder, price: Decimal) -> None:
        super()._fill(order, price)
        self.balance += self._rounding
        self._rounding = Decimal(0)

    def place(self, **fields: Any) -> EmuOrder:
        with self.lock:
            order = super().place(**fields)
            if self.fill_limits:
                self._cross(order, self.prices[order.symbol], at_market=True)
            return order

    def set_price(self, symbol: str, price: Decimal) -> list[EmuOrder]:
        with self.lock:
            fired = super().set_price(symbol, price)
            if self.fill_limits:
                for order in list(self.orders.values()):
                    if order.symbol == symbol:
                        self._cross(order, price)
            return fired

    def _cross(self, order: EmuOrder, price: Decimal, at_market: bool = False) -> None:
        """Fill a resting limit the market reached; a reduce-only one with nothing left to
        reduce is cancelled (Bybit's CancelByReduceOnly), one larger than its leg is cut to it."""
        if order.type != "limit" or order.status != "open" or order.price is None:
            return
        if not (price <= order.price if order.side == "buy" else price >= order.price):
            return
        if self._closes(order):
            qty = self._reducible(order)
            if qty == 0:
                order.extra["cancelType"] = "CancelByReduceOnly"
                order.status, order.updated_ms = "canceled", self.tick()
                self.emit("order", order)
                return
            order.qty = qty
        self._fill(order, price if at_market else order.price)
        self.emit("order", order)


class Late:
    """The venue, answering every order-changing request `latency_s` after processing it, and
    every `hold_every`-th one (0: none) only after the client gave up (`HOLD_S`, past the bot's
    timeout_ms): the order landed, the bot never heard and looks it up by its client id."""

    def __init__(self, venue: Any, latency_s: float, hold_every: int = 0) -> None:
        self.venue, self.latency_s, self.hold_every = venue, latency_s, hold_every
        self._count = 0
        self._lock = threading.Lock()

    def route(self, method: str, path: str, params: dict[str, Any]) -> tuple[int, Any]:
        answer = self.venue.route(method, path, params)
        if method != "GET" and path in ORDER_PATHS:
            with self._lock:
                self._count += 1
                held = self.hold_every > 0 and self._count % self.hold_every == 0
            time.sleep(HOLD_S if held else self.latency_s)
        return answer

    def __getattr__(self, name: str) -> Any:
        return getattr(self.venue, name)


class Mover:
    """Every symbol's price in trends of a few seconds each way (a trailing stop activates and
    moves, then the turn fires it or the strategy exits), with noise, pulled back towards its
    start; in ticks, every `every_s`."""

    def __init__(self, book: Book, seed: int, every_s: float = 0.1,
                 step: float = 0.0003) -> None:
        self.book, self.rng, self.every_s, self.step = book, random.Random(seed), every_s, step
        self.start_prices = dict(book.prices)
        self.drift = {native: 0.0 for native in book.prices}
        self.favour = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._main, name="live-chaos-prices", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(10)

    def _way(self, native: str) -> int:
        """Mostly the way of the position open on the venue (always while the run waits for a
        stop move, `favour`): its trailing stop activates and moves, then a turn fires it."""
        size = self.book.position(native)[0]
        if size and self.rng.random() < (1.0 if self.favour else 0.6):
            return 1 if size > 0 else -1
        return self.rng.choice((-1, 1))

    def _main(self) -> None:
        while not self._stop.wait(self.every_s):
            for native, start in self.start_prices.items():
                if self.rng.random() < self.every_s / 3:  # a new trend every ~3 s
                    self.drift[native] = self._way(native) * self.step
                now = float(self.book.prices[native])
                pull = 0.02 * (float(start) - now) / float(start)  # stays near its start
                moved = now * (1 + pull + self.drift[native] + self.rng.gauss(0, self.step))
                price = (Decimal(str(moved)) / TICKS[native]).quantize(Decimal(1)) * TICKS[native]
                self.book.set_price(native, price)


class Venue:
    """One venue's emulators (HTTP and WebSocket) over one book."""

    def __init__(self, venue_id: str, hold_every: int = 0) -> None:
        self.id = venue_id
        self.book = WallBook(PRICES, now_ms=int(time.time() * 1000))
        self.book.balance = START_BALANCE
        venue = BybitVenue(self.book) if venue_id == "bybit" else BinanceVenue(self.book)
        self.held = hold_every > 0
        self.http = EmulatorServer(Late(venue, LATENCY_S, hold_every)).start()
        self.ws = (start_bybit_ws(self.book, API_KEY, API_SECRET) if venue_id == "bybit"
                   else start_binance_ws(self.book, venue))  # type: ignore[arg-type]

    def stop(self) -> None:
        self.ws.stop()
        self.http.stop()

    def sent_twice(self) -> list[tuple[str, int]]:
        counts: dict[str, int] = {}
        for r in self.http.requests:
            key = CREATE_IDS.get((r.method, r.path))
            if key and r.params.get(key):
                counts[r.params[key]] = counts.get(r.params[key], 0) + 1
        return [(cid, n) for cid, n in counts.items() if n > 1]

    def tally(self, mine: dict, total: Decimal, change: Decimal) -> str:
        """What the run made the venue do, so a report shows the checks had something to see."""
        with self.book.lock:
            fired = sum(o.trigger is not None and o.status in ("filled", "triggered")
                        for o in self.book.orders.values())
            trades = len(self.book.trades)
        amends = len(self.http.hits("/v5/order/amend"))
        return (f"venue: {trades} trades of {len(mine)} booked orders, {fired} stops fired, "
                f"{amends} amends; ledger realized - fees {total}, wallet change {change}")

    def dump(self, path: Path) -> None:
        """The venue's history into `path` (JSON lines: every order as it ended or rests, every
        trade, every order-changing request without its headers), so a run's journal can be
        compared with the venue's after the run (the emulator lives only in the runner)."""
        with self.book.lock:
            orders = [{"order": o.cid, "oid": o.oid, "symbol": o.symbol, "side": o.side,
                       "type": o.type, "qty": str(o.qty), "price": str(o.price),
                       "trigger": str(o.trigger), "reduce_only": o.reduce_only,
                       "status": o.status, "filled": str(o.filled), "created_ms": o.created_ms,
                       "updated_ms": o.updated_ms} for o in self.book.orders.values()]
            trades = [{"trade": t.tid, "order": self.owner(t.order), "price": str(t.price),
                       "qty": str(t.qty), "fee": str(t.fee), "realized": str(t.realized),
                       "ts": t.ts} for t in self.book.trades]
        asked = [{"at": r.at, "method": r.method, "path": r.path,
                  "params": {k: v for k, v in r.params.items() if k not in SECRET_PARAMS}}
                 for r in self.http.requests if r.method != "GET" and r.path in ORDER_PATHS]
        with path.open("w") as f:
            for row in [*orders, *trades, *asked]:
                f.write(json.dumps(row, default=str) + "\n")

    def owner(self, order: EmuOrder) -> str:
        """The client id the bot knows a fill by: a Binance stop fills through a child order
        the trigger placed (`actualOrderId`), booked under the stop's own id."""
        for o in self.book.orders.values():
            if o.extra.get("actualOrderId") == order.oid:
                return o.cid
        return order.cid

    def fills(self) -> dict[str, tuple[Decimal, Decimal, Decimal, Decimal, int]]:
        """Per client id: (amount, notional, fee, realized, newest ts) of the venue's trades."""
        out: dict[str, list] = {}
        with self.book.lock:
            for t in self.book.trades:
                a = out.setdefault(self.owner(t.order), [Decimal(0)] * 4 + [0])
                a[0] += t.qty
                a[1] += t.qty * t.price
                a[2] += t.fee
                a[3] += t.realized
                a[4] = max(a[4], t.ts)
        return {k: tuple(v) for k, v in out.items()}

    def positions(self) -> dict[str, Decimal]:
        with self.book.lock:
            return {sym: size for (sym, _leg), (size, _e) in self.book.positions.items() if size}

    def stops(self, native: str) -> list[EmuOrder]:
        with self.book.lock:
            return [o for o in self.book.orders.values() if o.symbol == native
                    and o.trigger is not None and o.status == "untriggered"]


class Opener:
    """Signals that steer the bot towards the kill moment the run waits for (`focus`), every
    `every_s`: an entry (no exit after it) for a symbol flat on the venue, so a position lives
    until its stop or trailing stop fires (the paper run's burst of entry, exit, entry, exit
    ends flat within a second); waiting for a close, or for an entry or a first stop (then
    every other time), an exit of an open one."""

    CLOSING = ("close_in_flight",)
    OPENING = ("entry_in_flight", "first_stop_in_flight")

    def __init__(self, url: str, venue: Venue, seed: int, every_s: float = 1.0) -> None:
        self.url, self.venue, self.every_s = url, venue, every_s
        self.rng = random.Random(seed)
        self.focus = ""
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._main, name="live-chaos-opener", daemon=True)
        self._seq = 0

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(15)

    def _main(self) -> None:
        while not self._stop.wait(self.every_s):
            held = self.venue.positions()
            flat = [s for s in LIVE_SYMBOLS if NATIVE[s] not in held]
            open_ = [s for s in LIVE_SYMBOLS if NATIVE[s] in held]
            # waiting for an entry, a flat symbol may be one the bot cannot enter for a while
            # (an entry killed before it reached the venue stays pending for 60 s: README)
            opening = self.focus in self.OPENING and (not flat or self.rng.random() < 0.5)
            if open_ and (self.focus in self.CLOSING or opening):
                self._post(self.rng.choice(open_), "exit")
            elif flat:
                self._post(self.rng.choice(flat), self.rng.choice(("long", "short")))

    def _post(self, symbol: str, side: str) -> None:
        self._seq += 1
        body = json.dumps({"id": f"steer-{self._seq}", "symbol": symbol, "side": side}).encode()
        req = urllib.request.Request(self.url, data=body, method="POST", headers={
            "Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"})
        try:
            urllib.request.urlopen(req, timeout=10).close()
        except OSError:  # the bot is down (HTTPError is an OSError too)
            pass
