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

from collections.abc import Callable
from typing import Any


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
