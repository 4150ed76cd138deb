"""A message ccxt.pro's own parser cannot read is skipped, not left to end the socket's reads.

ccxt.pro handles each message inside the socket's receive callback (`Client.receive_loop`): an
exception raised by its parser (a number that is not one, e.g. `"price": "abc"`: ccxt's
`Precise` raises ValueError) leaves that callback before it schedules the next read. asyncio
prints a traceback, the socket stays open and reads nothing more, and while the public prices
keep the streams "up" every later order and fill on that socket goes unseen until the
unanswered pings close it. Installed outermost on the exchange instance (before the first
socket opens: a client keeps the handler it was created with), this skips such a message with
one line naming the topic and the symbols, tells `unreadable` of each (symbol, client order
id) it names (the order is looked up over REST, as for an unreadable parsed item), and lets the
socket read on.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

_LISTEN_KEY = re.compile(r"(listenKey=)[^&\s'\"]+|(/ws/)[A-Za-z0-9]{16,}")
FRAME_LINE_EVERY_S = 60.0
"""Frames that are not JSON are said at most this often (a venue or proxy garbling every frame
would otherwise write a line per message)."""


def install(ex: Any, logger: Any, wanted: set[str],
            unreadable: Callable[[str, str], None]) -> None:
    """`wanted`: our symbols; `unreadable(symbol, client_order_id)`."""
    inner = getattr(ex, "handle_message", None)
    if inner is None:  # not a ccxt.pro instance (a test's stand-in): nothing to guard
        return

    def handle_message(client: Any, message: Any) -> Any:
        try:
            return inner(client, message)
        except Exception as exc:  # noqa: BLE001 - never into ccxt's receive callback
            topic, rows = _described(message)
            names = sorted({str(r.get("s") or r.get("symbol")) for r in rows
                            if r.get("s") or r.get("symbol")})
            logger.warning("stream: skipped a message ccxt could not read ({} {}): {}: {}",
                           topic, ", ".join(names) or "no symbol", type(exc).__name__,
                           str(exc)[:200])
            markets = ex.markets or {}
            known = {str(markets[s]["id"]): s for s in wanted if s in markets}
            for row in rows:
                symbol = known.get(str(row.get("s") or row.get("symbol")))
                # Bybit orderLinkId, Binance `c` (ORDER_TRADE_UPDATE), `caid` (ALGO_UPDATE: stops)
                cid = row.get("c") or row.get("orderLinkId") or row.get("caid")
                if symbol is not None and isinstance(cid, str) and cid:
                    unreadable(symbol, cid)
            return None

    ex.handle_message = handle_message


def guard_frames(ex: Any, logger: Any, masked: Callable[[str], str],
                 monotonic: Callable[[], float] = time.monotonic) -> None:
    """A frame that is not JSON (cut short, garbled on the way) is skipped, not left to end the
    socket's reads. ccxt.pro decodes each text frame (`Client.handle_text_or_binary_message`)
    before its message handler runs, so the decoder's error never reached `install`'s guard:
    it left the receive callback, the socket stayed open and read nothing more until its pings
    went unanswered (about 20 s of a private socket's orders and fills unseen while the public
    prices kept the streams up). Each socket ccxt creates from now on gets the guard (installed
    before the first one opens). `masked(url)`: the socket's URL without a listen key."""
    inner = getattr(ex, "client", None)
    if inner is None:  # not a ccxt.pro instance (a test's stand-in)
        return
    said = [-float("inf")]

    def client(url: str) -> Any:
        made = inner(url)
        decode = getattr(made, "handle_text_or_binary_message", None)
        if decode is None or getattr(made, "_frames_guarded", False):
            return made

        def guarded(data: Any) -> Any:
            try:
                return decode(data)
            except Exception as exc:  # noqa: BLE001 - never into ccxt's receive callback
                now = monotonic()
                if now - said[0] >= FRAME_LINE_EVERY_S:
                    said[0] = now
                    logger.warning("stream: skipped a frame that is not JSON on {} ({}: {}); "
                                   "the socket reads on (said at most once a minute)",
                                   masked(str(url)), type(exc).__name__, str(exc)[:200])
                return None

        made.handle_text_or_binary_message = guarded
        made._frames_guarded = True
        return made

    ex.client = client


def masked(text: str) -> str:
    """`text` without a Binance listen key (it lets anyone read the account's private stream)."""
    return _LISTEN_KEY.sub(lambda m: (m.group(1) or m.group(2)) + "***", text)


def _described(message: Any) -> tuple[str, list[dict[str, Any]]]:
    """The message's topic (Bybit `topic`, Binance event `e`) and its rows (Bybit `data`,
    Binance `o`), as far as they can be told."""
    if not isinstance(message, dict):
        return type(message).__name__, []
    if isinstance(message.get("data"), dict) and "stream" in message:  # a combined stream
        message = message["data"]
    topic = str(message.get("topic") or message.get("e") or message.get("op") or "?")
    data = message.get("data", message.get("o"))
    rows = data if isinstance(data, list) else [data]
    return topic, [r for r in rows if isinstance(r, dict)]
