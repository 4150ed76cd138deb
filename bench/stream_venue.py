"""The venue side of bench_stream_close.py: the Bybit HTTP and WebSocket emulators over one
book, in a process of their own (a real venue does not share the bot's interpreter lock),
driven over a pipe, stamping when each price was set and when its ticker message was written."""

from __future__ import annotations

import multiprocessing
import time
from decimal import Decimal
from typing import Any

import common  # noqa: F401 - puts the repository on sys.path

from tests.exchange.ccxt import emu_bybit
from tests.exchange.ccxt.emu_book import Book
from tests.exchange.ccxt.emu_bybit import BybitVenue
from tests.exchange.ccxt.emu_server import EmulatorServer
from tests.exchange.ccxt.ws_emu_bybit import start_bybit_ws


def native(symbol: str) -> str:
    return symbol.split("/")[0] + "USDT"


class ManyMarkets(BybitVenue):
    """The HTTP emulator listing every bench symbol (ccxt.pro loads markets over REST)."""

    def __init__(self, book: Book) -> None:
        super().__init__(book)
        template = emu_bybit.INSTRUMENTS[0]
        self.rows = [{**template, "symbol": sym, "baseCoin": sym[:-4]} for sym in book.prices]

    def h_v5_market_instruments_info(self, p: dict[str, Any]) -> tuple[int, Any]:
        rows = self.rows if p.get("category") == "linear" else []
        return self._ok({"category": p.get("category"), "list": rows, "nextPageCursor": ""})


def venue_process(conn: Any, natives: list[str], push: float) -> None:
    """The venue in its own process (a real venue does not share the bot's GIL): the HTTP and
    WebSocket emulators over one book, driven over a pipe. Stamps (perf_counter, the system-wide
    CLOCK_MONOTONIC on Linux) are taken just before each price is set, i.e. before its stream
    message is built and sent."""
    book = Book({n: Decimal("1") for n in natives}, now_ms=int(time.time() * 1000))
    http = EmulatorServer(ManyMarkets(book)).start()
    ws = start_bybit_ws(book, "k", "s", ticker_interval_s=push)
    conn.send((http.base_url, ws.url))
    stamps: dict[str, float] = {}
    written = stamp_writes(ws)
    while True:
        cmd, arg = conn.recv()
        if cmd == "set":
            for n, price in arg:
                stamps[n] = time.perf_counter()
                book.set_price(n, Decimal(price))
        elif cmd == "cross":  # paced here, so a pause of the bot's process cannot delay a send
            prices, rate = arg
            t0 = time.perf_counter()
            for i, (n, price) in enumerate(prices):
                due = t0 + i / rate
                while (now := time.perf_counter()) < due:
                    time.sleep(min(due - now, 0.002))
                stamps[n] = time.perf_counter()
                book.set_price(n, Decimal(price))
            conn.send(len(prices))
        elif cmd == "stamps":
            conn.send((dict(stamps), dict(written)))
        elif cmd == "rest_polls":
            conn.send(len(http.hits("/v5/market/tickers")))
        else:
            break
    ws.stop()
    http.stop()


def stamp_writes(ws: Any) -> dict[str, float]:
    """When each price change's ticker message was written to the socket, per venue symbol: the
    emulator sends every message as a task on its loop, in order, and a small frame is written
    in the task's first step, so a callback queued just after the task runs just after the
    write. Separates the emulator's own queue (its background push) from the bot's."""
    written: dict[str, float] = {}
    broadcast = ws._broadcast

    def stamped(topic: str, text: str, msg: Any, record: bool = True) -> None:
        broadcast(topic, text, msg, record)
        if record and topic.startswith("tickers."):
            ws._loop.call_soon(written.__setitem__, topic[8:], time.perf_counter())

    ws._broadcast = stamped
    return written


class Venue:
    def __init__(self, natives: list[str], push: float) -> None:
        ctx = multiprocessing.get_context("spawn")
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=venue_process, args=(child, natives, push), daemon=True)
        self.proc.start()
        self.base_url, self.ws_url = self.conn.recv()

    def set(self, prices: dict[str, Decimal]) -> None:
        self.conn.send(("set", [(native(s), str(p)) for s, p in prices.items()]))

    def cross(self, prices: dict[str, Decimal], rate: float) -> None:
        """Set these prices one after another at `rate` per second, paced by the venue."""
        self.conn.send(("cross", ([(native(s), str(p)) for s, p in prices.items()], rate)))
        self.conn.recv()

    def ask(self, cmd: str) -> Any:
        self.conn.send((cmd, None))
        return self.conn.recv()

    def stop(self) -> None:
        self.conn.send(("stop", None))
        self.proc.join(10)
