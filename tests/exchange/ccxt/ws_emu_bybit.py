"""Bybit v5 WebSocket streams over the shared `Book`: public `/v5/public/linear` (topic
`tickers.<SYMBOL>`, a snapshot on subscribe) and private `/v5/private` (`auth` op signed with
HMAC-SHA256 over "GET/realtime" + expires, then topics `order`, `execution`, `position`).
Message shapes follow Bybit's v5 WebSocket docs as quoted in ccxt/pro/bybit.py; the `data`
rows are the REST rows (emu_bybit.py) plus `category`, as Bybit sends them."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import time
from typing import Any

from tests.exchange.ccxt.emu_book import Book, EmuOrder, EmuTrade
from tests.exchange.ccxt.emu_bybit import order_json, s
from tests.exchange.ccxt.ws_emu_server import Conn, WsEmulator

PRIVATE_TOPICS = {"order", "execution", "position"}


class BybitWs:
    def __init__(self, book: Book, api_key: str, api_secret: str) -> None:
        self.book = book
        self.key, self.secret = api_key, api_secret
        self._ids = itertools.count(1)
        self.auth_failures = 0
        self.clock_offset_ms = 0
        """The venue's clock minus this machine's: a login whose `expires` is not after the
        venue's now is refused, as Bybit does."""
        self.subscribes: list[tuple[float, tuple[str, ...]]] = []
        """(monotonic time, topics) of every subscribe request."""
        self.refused: set[str] = set()
        """Ticker topics the venue refuses (a delisted or unknown symbol): a subscribe naming
        one is answered `success: false` naming it, the request's other topics are taken."""

    def accept(self, path: str, query: dict[str, str]) -> str | None:
        if path in ("/v5/public/linear", "/v5/private"):
            return None
        return f"no stream at {path}"

    def on_open(self, conn: Conn) -> list[tuple[str, Any]]:
        return []

    def on_message(self, conn: Conn, msg: Any) -> list[Any]:
        op, req_id = msg.get("op"), msg.get("req_id")
        base = {"conn_id": f"emu-{id(conn)}", "req_id": req_id, "op": op}
        if op == "ping":
            return [{**base, "success": True, "ret_msg": "pong"}]
        if op == "auth":
            conn.authed = self._valid(msg.get("args") or [])
            if not conn.authed:
                self.auth_failures += 1
            return [{**base, "success": conn.authed, "ret_msg": "" if conn.authed
                     else "error:USVC1111"}]
        if op == "subscribe":
            args = list(msg.get("args") or [])
            self.subscribes.append((time.monotonic(), tuple(args)))
            private = conn.path == "/v5/private"
            if private and not conn.authed:
                return [{**base, "success": False, "ret_msg": "Request not authorized"}]
            wanted = PRIVATE_TOPICS if private else None
            good = [a for a in args if (a in wanted if wanted else a.startswith("tickers."))
                    and a not in self.refused]
            conn.topics.update(good)
            if len(good) == len(args):
                return [{**base, "success": True, "ret_msg": ""}]
            bad = [a for a in args if a not in good]
            why = (f"Invalid symbol :[{bad[0]}]" if bad[0].startswith("tickers.")
                   else f"error:handler not found,topic:{bad[0]}")
            return [{**base, "success": False, "ret_msg": why}]
        return [{**base, "success": False, "ret_msg": "error:invalid op"}]

    def _valid(self, args: list[Any]) -> bool:
        if len(args) != 3:
            return False
        key, expires, signature = str(args[0]), str(args[1]), str(args[2])
        wanted = hmac.new(self.secret.encode(), f"GET/realtime{expires}".encode(),
                          hashlib.sha256).hexdigest()
        return (key == self.key and hmac.compare_digest(wanted, signature)
                and int(expires) > time.time() * 1000 + self.clock_offset_ms)

    def snapshot(self, topic: str) -> Any | None:
        if topic.startswith("tickers."):
            sym = topic.split(".", 1)[1]
            if sym in self.book.prices:
                return self._ticker(sym)
        return None

    def _ticker(self, sym: str) -> dict[str, Any]:
        px = s(self.book.prices[sym])
        data = {"symbol": sym, "tickDirection": "PlusTick", "price24hPcnt": "0",
                "lastPrice": px, "prevPrice24h": px, "highPrice24h": px, "lowPrice24h": px,
                "prevPrice1h": px, "markPrice": px, "indexPrice": px, "openInterest": "1",
                "openInterestValue": px, "turnover24h": "1000000", "volume24h": "1000",
                "nextFundingTime": "0", "fundingRate": "0.0001", "bid1Price": px,
                "bid1Size": "1", "ask1Price": px, "ask1Size": "1"}
        return {"topic": f"tickers.{sym}", "type": "snapshot", "data": data,
                "cs": next(self._ids), "ts": int(time.time() * 1000)}

    def ticker_push(self) -> list[tuple[str, Any]]:
        return [(f"tickers.{sym}", self._ticker(sym)) for sym in self.book.prices]

    def events(self, kind: str, obj: Any) -> list[tuple[str, Any]]:
        if kind == "price":
            return [(f"tickers.{obj}", self._ticker(obj))]
        if kind == "order":
            return [("order", self._private("order", [self.order_row(obj)]))]
        if kind == "trade":
            return [("execution", self._private("execution", [self.execution_row(obj)])),
                    ("position", self._private("position", [self.position_row(obj.order)]))]
        return []

    def _private(self, topic: str, data: list[dict[str, Any]]) -> dict[str, Any]:
        return {"id": f"emu-{next(self._ids)}", "topic": topic,
                "creationTime": int(time.time() * 1000), "data": data}

    def order_row(self, o: EmuOrder) -> dict[str, Any]:
        return {"category": "linear", **order_json(o, self.book.fees_of(o))}

    def execution_row(self, t: EmuTrade) -> dict[str, Any]:
        o = t.order
        return {"category": "linear", "symbol": o.symbol, "orderId": o.oid,
                "orderLinkId": o.cid, "side": o.side.capitalize(), "orderPrice": s(t.price),
                "orderQty": s(t.qty), "leavesQty": "0", "orderType": o.type.capitalize(),
                "stopOrderType": "Stop" if o.trigger else "", "execFee": s(t.fee),
                "execId": t.tid, "execPrice": s(t.price), "execQty": s(t.qty),
                "execType": "Trade", "execValue": s(t.qty * t.price), "execTime": str(t.ts),
                "feeCurrency": "USDT", "isMaker": False, "feeRate": "0.00055",
                "tradeIv": "", "markIv": "", "markPrice": s(t.price), "indexPrice": "",
                "underlyingPrice": "", "blockTradeId": "", "seq": int(t.tid),
                "closedSize": s(t.closed), "execPnl": s(t.realized)}

    def position_event(self, symbol: str, leg: str = "net") -> tuple[str, Any]:
        """The `position` message for the book's position now (a change without a fill of
        ours: liquidation, ADL, a test's hand-made size)."""
        return "position", self._private("position", [self.position_of(symbol, leg)])

    def position_row(self, o: EmuOrder) -> dict[str, Any]:
        return self.position_of(o.symbol, self.book.leg_of(o))

    def position_of(self, symbol: str, leg: str) -> dict[str, Any]:
        size, entry = self.book.position(symbol, leg)
        mark = self.book.prices[symbol]
        idx = {"net": 0, "long": 1, "short": 2}[leg]
        return {"category": "linear", "symbol": symbol, "positionIdx": idx,
                "side": "" if size == 0 else ("Buy" if size > 0 else "Sell"),
                "size": s(abs(size)), "entryPrice": s(entry), "markPrice": s(mark),
                "positionValue": s(abs(size) * entry), "leverage": "10",
                "unrealisedPnl": s((mark - entry) * size), "cumRealisedPnl": "0",
                "positionStatus": "Normal", "tradeMode": 0, "liqPrice": "", "bustPrice": "",
                "positionIM": "0", "positionMM": "0", "takeProfit": "0", "stopLoss": "0",
                "trailingStop": "0", "createdTime": "1676538056258",
                "updatedTime": str(self.book.now_ms), "seq": next(self._ids)}


def start_bybit_ws(book: Book, api_key: str, api_secret: str,
                   ticker_interval_s: float = 0.2) -> WsEmulator:
    return WsEmulator(book, BybitWs(book, api_key, api_secret), ticker_interval_s).start()

