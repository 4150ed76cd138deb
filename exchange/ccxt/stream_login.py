"""The streams' own signed requests and their WebSocket login, signed with the venue's time
(venue_clock.py), as the gateway's REST calls are.

The streams' ccxt.pro instance is built apart from the gateway's and never learned the venue's
time the gateway had read after a refused timestamp. Two things of it are signed with a time:
- its own REST calls: ccxt.pro 4.5.90's bybit `watch_orders` / `watch_my_trades` /
  `watch_positions` first ask whether the account is unified (a signed REST call);
- Bybit's private WebSocket login: HMAC of "GET/realtime" + `expires`, refused once `expires`
  is in the venue's past. ccxt's `bybit.authenticate` takes `expires` from this machine's
  clock (`milliseconds() + 10000`), not from `nonce()`, so `timeDifference` does not reach it.
With this machine's clock behind the venue's (by more than the REST window, 5 s, or a login's
10 s), both were refused at every attempt: no order update, fill or position change came over
the stream for as long as the clock stayed off.

Here the instance gets the venue's time (ccxt's `timeDifference`, which its `nonce()`
subtracts) before each request it signs, and its own `authenticate`: ccxt's login with
`expires` from the venue's time (ccxt builds the message from these `args`: its `params`
extend the request; the rest of its login is unchanged). Both read the clock each time, so a
difference learned after the streams started is used by their next attempt."""

from __future__ import annotations

import hashlib
from typing import Any

from exchange.ccxt.venue_clock import VenueClock

LOGIN_VALID_MS = 10_000
"""How long a Bybit login stays valid (ccxt's own choice)."""


def sign_with_venue_time(ex: Any, clock: VenueClock) -> Any:
    """Make `ex` (a ccxt.pro instance) sign its requests and its WebSocket login with
    `clock`'s venue time."""
    sign = ex.sign

    def signed(*args: Any, **kwargs: Any) -> Any:
        clock.apply(ex)
        return sign(*args, **kwargs)

    ex.sign = signed
    if ex.id == "bybit":
        ex.authenticate = _bybit_login(ex, clock, ex.authenticate)
    return ex


def _bybit_login(ex: Any, clock: VenueClock, inner: Any) -> Any:
    async def authenticate(url: str, params: dict[str, Any] | None = None) -> Any:
        params = dict(params or {})
        clock.apply(ex)
        if clock.difference_ms is not None and "args" not in params:
            expires = str(int(ex.nonce()) + LOGIN_VALID_MS)
            signature = ex.hmac(ex.encode("GET/realtime" + expires), ex.encode(ex.secret),
                                hashlib.sha256, "hex")
            params["args"] = [ex.apiKey, expires, signature]
        return await inner(url, params)

    return authenticate
