"""Binance USDⓈ-M WebSocket streams over the shared `Book`: market streams at `/market/ws/...`
(`SUBSCRIBE` to `!miniTicker@arr`, `<sym>@miniTicker` or `!markPrice@arr@1s`) and the user
data stream at `/private/ws?listenKey=...` (a key issued by the HTTP emulator's
`POST /fapi/v1/listenKey`) carrying `ORDER_TRADE_UPDATE`, `ALGO_UPDATE` and `ACCOUNT_UPDATE`.
Shapes follow Binance's futures docs as quoted in ccxt/pro/binance.py."""

from __future__ import annotations

import time
from typing import Any

from tests.exchange.ccxt.emu_binance import ALGO_STATUS, BinanceVenue, s
from tests.exchange.ccxt.emu_book import Book, EmuOrder, EmuTrade
from tests.exchange.ccxt.ws_emu_server import Conn, WsEmulator

USER = "user"
X_OF = {"open": "NEW", "untriggered": "NEW", "filled": "TRADE", "canceled": "CANCELED",
        "expired": "EXPIRED"}
X_STATUS = {"open": "NEW", "untriggered": "NEW", "filled": "FILLED", "canceled": "CANCELED",
            "expired": "EXPIRED"}


def _ms() -> int:
    return int(time.time() * 1000)


class BinanceWs:
    def __init__(self, book: Book, venue: BinanceVenue) -> None:
        self.book = book
        self.venue = venue
        self.untraded: set[str] = set()
        """Symbols with no trade: Binance leaves them out of `!miniTicker@arr` (its docs: only
        tickers that changed are in the array); their REST ticker still answers."""

    def accept(self, path: str, query: dict[str, str]) -> str | None:
        if path.startswith("/market/ws") or path.startswith("/public/ws"):
            return None
        if path.startswith("/private/ws"):
            key = query.get("listenKey")
            return None if key in self.venue.listen_keys else f"invalid listenKey {key!r}"
        return f"no stream at {path}"

    def on_open(self, conn: Conn) -> list[tuple[str, Any]]:
        return [(USER, None)] if conn.path.startswith("/private/ws") else []

    def on_message(self, conn: Conn, msg: Any) -> list[Any]:
        method, params, req = msg.get("method"), list(msg.get("params") or []), msg.get("id")
        if method == "SUBSCRIBE":
            conn.topics.update(str(p) for p in params)
            return [{"result": None, "id": req}]
        if method == "UNSUBSCRIBE":
            conn.topics.difference_update(str(p) for p in params)
            return [{"result": None, "id": req}]
        return [{"error": {"code": 2, "msg": f"Invalid request: unknown method {method}"},
                 "id": req}]

    def snapshot(self, topic: str) -> Any | None:
        return None  # Binance sends nothing until the next push

    def _mini(self, sym: str) -> dict[str, Any]:
        px = self.book.prices[sym]
        return {"e": "24hrMiniTicker", "E": _ms(), "s": sym, "c": s(px), "o": s(px),
                "h": s(px), "l": s(px), "v": "100", "q": s(px * 100)}

    def _mark(self, sym: str) -> dict[str, Any]:
        px = s(self.book.prices[sym])
        return {"e": "markPriceUpdate", "E": _ms(), "s": sym, "p": px, "ap": px, "P": px,
                "i": px, "r": "0.00010000", "T": _ms() + 3_600_000}

    def _prices(self, symbols: list[str]) -> list[tuple[str, Any]]:
        out: list[tuple[str, Any]] = [("!miniTicker@arr", [self._mini(x) for x in symbols]),
                                      ("!markPrice@arr@1s", [self._mark(x) for x in symbols])]
        for sym in symbols:
            out.append((f"{sym.lower()}@miniTicker", self._mini(sym)))
        return out

    def ticker_push(self) -> list[tuple[str, Any]]:
        # the all-market arrays list only symbols that traded (`untraded`: none did)
        return self._prices([x for x in self.book.prices if x not in self.untraded])

    def events(self, kind: str, obj: Any) -> list[tuple[str, Any]]:
        if kind == "price":
            return [] if obj in self.untraded else self._prices([obj])
        if kind == "order":
            if obj.trigger is not None:
                return [(USER, self.algo_update(obj))]
            if obj.status == "filled":
                return []  # its fill went out as the TRADE update
            return [(USER, self.order_update(obj, None))]
        if kind == "trade":
            return [(USER, self.order_update(obj.order, obj)), (USER, self.account_update(obj))]
        return []

    def order_update(self, o: EmuOrder, t: EmuTrade | None) -> dict[str, Any]:
        now = _ms()
        body = {
            "s": o.symbol, "c": o.cid, "S": o.side.upper(), "o": o.type.upper(), "f": "GTC",
            "q": s(o.qty), "p": s(o.price), "ap": s(o.avg), "sp": "0",
            "x": "TRADE" if t is not None else X_OF[o.status],
            "X": "FILLED" if t is not None else X_STATUS[o.status], "i": int(o.oid),
            "l": s(t.qty) if t else "0", "z": s(o.filled), "L": s(t.price) if t else "0",
            "N": t.fee_asset if t else "USDT", "n": s(t.fee) if t else "0",
            "T": t.ts if t else o.updated_ms,
            "t": int(t.tid) if t else 0, "b": "0", "a": "0", "m": False, "R": o.reduce_only,
            "wt": "CONTRACT_PRICE", "ot": o.type.upper(),
            "ps": o.extra.get("positionSide", "BOTH"), "cp": False,
            "rp": s(t.realized) if t else "0", "pP": False, "si": 0, "ss": 0,
            "V": "NONE", "pm": "NONE", "gtd": 0,
        }
        return {"e": "ORDER_TRADE_UPDATE", "E": now, "T": body["T"], "o": body}

    def algo_update(self, o: EmuOrder) -> dict[str, Any]:
        status = ALGO_STATUS[o.status]
        actual = o.extra.get("actualOrderId") or ""
        child = self.book.orders.get(actual)
        # "ap" / "aq" / "act": only once the order is triggered and placed in the engine
        engine = {"ap": s(child.avg), "aq": s(child.filled), "act": child.type.upper()} if (
            child is not None) else {}
        body = {"caid": o.cid, "aid": int(o.oid), "at": "CONDITIONAL",
                "o": o.extra.get("type", "STOP_MARKET"), "s": o.symbol, "S": o.side.upper(),
                "ps": o.extra.get("positionSide", "BOTH"), "f": "GTC", "q": s(o.qty),
                "X": status, "ai": actual, **engine,
                "tp": s(o.trigger), "p": "0", "V": "EXPIRE_MAKER", "wt": "CONTRACT_PRICE",
                "pm": "NONE", "cp": False, "pP": False, "R": o.reduce_only,
                "tt": o.updated_ms if actual else 0, "gtd": 0, "rm": ""}
        return {"e": "ALGO_UPDATE", "T": o.updated_ms, "E": _ms(), "o": body}

    def account_update(self, t: EmuTrade) -> dict[str, Any]:
        o = t.order
        named = o.extra.get("positionSide", "BOTH")
        return self._account(o.symbol, self.book.leg_of(o), named, t.ts, "ORDER")

    def position_event(self, symbol: str, leg: str = "net") -> tuple[str, Any]:
        """The ACCOUNT_UPDATE for the book's position now (a change without a fill of ours:
        liquidation, ADL, a test's hand-made size)."""
        named = {"net": "BOTH", "long": "LONG", "short": "SHORT"}[leg]
        return USER, self._account(symbol, leg, named, _ms(), "ADL")

    def _account(self, symbol: str, leg: str, named: str, ts: int,
                 reason: str) -> dict[str, Any]:
        """The position rows as Binance pushes them (its user data stream upgrade notice:
        "When a position of a symbol is changed: "P" will push the details in the "BOTH"
        position of this symbol; if the change happens in LONG or SHORT, the changed LONG or
        SHORT position will be pushed"; the USDⓈ-M docs' ACCOUNT_UPDATE example lists BOTH
        first): a one-way account gets its BOTH row; a hedge-mode account the BOTH row (pa 0:
        no one-way position there) and then the changed leg."""
        legs = [("net", "BOTH"), (leg, named)] if self.book.hedge and leg != "net" else [
            (leg, named)]
        bal = s(self.book.balance)
        return {"e": "ACCOUNT_UPDATE", "E": _ms(), "T": ts, "a": {
            "m": reason, "B": [{"a": "USDT", "wb": bal, "cw": bal, "bc": "0"}],
            "P": [self._position_row(symbol, row_leg, row_named) for row_leg, row_named in legs]}}

    def _position_row(self, symbol: str, leg: str, named: str) -> dict[str, Any]:
        size, entry = self.book.position(symbol, leg)
        return {"s": symbol, "pa": s(size), "ep": s(entry), "bep": s(entry),
                "cr": "0", "up": "0", "mt": "cross", "iw": "0", "ps": named}


def start_binance_ws(book: Book, venue: BinanceVenue,
                     ticker_interval_s: float = 0.2) -> WsEmulator:
    return WsEmulator(book, BinanceWs(book, venue), ticker_interval_s).start()


def expire_listen_key(ws: WsEmulator, venue: BinanceVenue) -> int:
    """Binance's listenKeyExpired (USDⓈ-M docs, "Event: User Data Stream Expired"): the key is
    no longer valid, its socket stays open and carries no user data event any more, and a
    keepalive answers -1125 until a new key is created. Returns the sockets told."""
    with venue.book.lock:
        venue.listen_keys.clear()
    return ws.end_topic(USER, lambda conn: {"e": "listenKeyExpired", "E": _ms(),
                                            "listenKey": conn.query.get("listenKey", "")},
                        "/private/ws")
