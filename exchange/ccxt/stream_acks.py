"""Whether the venue has taken the private subscriptions of the socket that is open now.

ccxt.pro's `watch_orders()` sends its subscription and waits for the first order message; it
never says whether the venue answered. An open socket is therefore not proof of a working
private stream: on Bybit the socket must authenticate (`op: auth`) and then subscribe to each
topic (`op: subscribe`), and when an answer is lost (the venue drops it, a reconnect races a
silent connection) ccxt waits on it forever while the socket stays open and the public prices
keep coming. Counted as up, that stream would switch REST polling off while no order or fill
could arrive (seen in tests/exchange/ccxt/test_stream_feed.py: a private socket with no topic,
reported connected for good).

This counts the venue's successful subscription answers on each private socket. Bybit answers
each subscribe with {"op": "subscribe", "success": true, ...} (v5 WebSocket docs, "How to
Subscribe to Topics"); a private socket is confirmed once it has as many as the private watchers
subscribe to. Binance's user-data stream needs no subscription (the listen key in the URL is
it), so an open socket there is confirmed. A private socket still unconfirmed `confirm_s` after
it was first seen is overdue: the streams close it and subscribe again.

Binance has the same failure in another form: when the listen key expires (a keepalive missed,
the process suspended past the key's 60 minutes) the venue sends {"e": "listenKeyExpired", ...}
and then no user data event on that socket, which stays open ("Event: User Data Stream
Expired" in the USDⓈ-M docs). ccxt.pro has no handler for that event and keeps the key as
valid for 20 more minutes. Here the event marks its socket unconfirmed and overdue at once, and
clears ccxt's cached key so the resubscription creates a new one.

A Bybit login the venue refuses (a key revoked or expired, a permission removed) is answered
{"op": "auth", "success": false, "ret_msg": ...} (v5). ccxt.pro 4.5.90 reads that as a plain
ExchangeError (it looks for the op under `request`, the v3 form), so it keeps the socket's
`authenticated` entry: every later watch on that socket waited for a login never sent again,
until the 10 s confirm deadline closed it as "not confirmed", and each refusal was said as one
warning per private watcher with the venue's bare code. The refused socket is now overdue at
once with the venue's answer (one line, `login_refused`), so the next try logs in afresh.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

_BYBIT_PRIVATE = "/v5/private"


class SubscriptionAcks:
    def __init__(self, venue_id: str, expected: int, confirm_s: float,
                 now: Callable[[], float]) -> None:
        self.venue_id = venue_id
        self.expected = expected
        """Private subscriptions a socket must have had answered."""
        self.confirm_s = confirm_s
        self._now = now
        self.login_refused = ""
        """The venue's answer to the last refused private login (Bybit), "" before any."""
        self.login_refusals = 0
        """Private logins refused in a row (an accepted login starts over)."""

    def install(self, ex: Any) -> SubscriptionAcks:
        """Read answers and expiries in front of ccxt's handler (before the first socket opens:
        ccxt's client keeps the handler it was created with)."""
        inner = ex.handle_message
        bybit = self.venue_id == "bybit"

        def handle_message(client: Any, message: Any) -> Any:
            if isinstance(message, dict):
                if bybit and message.get("op") == "subscribe" and message.get("success") is True:
                    client._stream_acks = getattr(client, "_stream_acks", 0) + 1
                elif bybit and _op(message) == "auth":
                    refused = _refusal(message)
                    if refused is None:
                        self.login_refusals = 0
                    else:
                        client._stream_login_refused = self.login_refused = refused
                        self.login_refusals += 1
                elif not bybit and _event(message) == "listenKeyExpired":
                    client._stream_expired = True
                    forget_listen_key(ex)
            return inner(client, message)

        ex.handle_message = handle_message
        return self

    def confirmed(self, sockets: list[Any]) -> bool:
        return not any(getattr(c, "_stream_expired", False) for c in sockets) and all(
            self._answered(c) for c in self._private(sockets))

    def overdue(self, sockets: list[Any]) -> list[tuple[Any, str]]:
        """Open private sockets to close, with why: expired, or still unconfirmed `confirm_s`
        after they were first looked at."""
        now = self._now()
        late = [(c, "the venue expired the listen key of the private stream") for c in sockets
                if getattr(c, "_stream_expired", False) and not c.closed()]
        for client in self._private(sockets):
            if self._answered(client) or client.closed():
                continue
            refused = getattr(client, "_stream_login_refused", None)
            if refused is not None:  # no later watch on it would log in again
                late.append((client, f"the venue refused the private login ({refused}): "
                                     f"the API key revoked, expired or without permission?"))
                continue
            since = getattr(client, "_stream_acks_since", None)
            if since is None:
                client._stream_acks_since = now
            elif now - since >= self.confirm_s:
                late.append((client, f"the venue did not confirm the private subscriptions "
                                     f"within {self.confirm_s:g} s"))
        return late

    def login_refusal(self, error: BaseException) -> bool:
        """True when `error` is a watcher's failure from the refused login (said once, by
        the line that closes its socket: not once more per private watcher)."""
        return bool(self.login_refused) and str(error).endswith(self.login_refused)

    def _private(self, sockets: list[Any]) -> list[Any]:
        if self.venue_id != "bybit":
            return []
        return [c for c in sockets if _BYBIT_PRIVATE in str(c.url)]

    def _answered(self, client: Any) -> bool:
        return int(getattr(client, "_stream_acks", 0)) >= self.expected


def _op(message: dict[str, Any]) -> Any:
    request = message.get("request")  # ccxt's v3 form: the op under `request`
    return message.get("op") or (request.get("op") if isinstance(request, dict) else None)


def _refusal(message: dict[str, Any]) -> str | None:
    """A login answer's refusal text; None when it was accepted."""
    code = message.get("retCode", message.get("ret_code"))
    if message.get("success") is True or (message.get("success") is None
                                          and str(code) == "0"):
        return None
    return str(message.get("ret_msg") or message.get("retMsg") or code or "refused")[:120]


def _event(message: dict[str, Any]) -> Any:
    data = message.get("data")
    return data.get("e") if isinstance(data, dict) and "stream" in message else message.get("e")


def forget_listen_key(ex: Any) -> None:
    """Clear ccxt.pro's cached Binance listen key(s) (`options[<type>]['listenKey']` with its
    `lastAuthenticatedTime`), so the next private watch creates a new key."""
    for value in list(ex.options.values()):
        if isinstance(value, dict) and "listenKey" in value:
            value["listenKey"] = None
            value["lastAuthenticatedTime"] = 0


def refused_tickers(error: BaseException, ids: dict[str, str]) -> list[str]:
    """Our symbols whose ticker topic a failed public subscription names. Bybit answers a
    subscribe naming an unknown or delisted symbol's topic with `success: false` and the topic
    in `ret_msg` (e.g. "Invalid symbol :[tickers.XYZUSDT]"); ccxt.pro fails the whole
    `watch_tickers` call with it, so the same request would be refused on every retry and the
    streams would never count as up. `ids`: venue market id -> our symbol."""
    named = re.findall(r"tickers\.([A-Za-z0-9_-]+)", str(error))
    return sorted({ids[i] for i in named if i in ids})
