"""Orders the order stream ended without a fill, followed until their actor has let them go.

The stream feed tells a symbol's actor (`OrderActivity`, then a `Timer`) when the order stream
ends one of our orders without a fill: a stop canceled, expired or rejected on the exchange.
The actor looks the order up over REST and applies what the venue answers. Bybit documents
that those reads may lag its stream ("order creation/cancellation is asynchronous, the data
returned from this endpoint may delay ... rely on the websocket stream"): a lookup right after
the push could still list the stop resting, the actor applied nothing, and nothing asked again.
The position stood without a stop on the exchange until the stop watch's next look (60 s while
the streams are up) or the periodic reconciliation, while our books called it protected
(tests/exchange/ccxt/test_stream_cancel_rest_lags.py).

So each such report is followed: while the actor still holds the order live (and is not
cancelling it itself) once it has published after the last report (it has handled it), it is
told again, `AGAIN_S` after the report and at a doubling pace after that, at most `TRIES` times
and for at most `FOLLOW_S`; then one line says so and the stop watch and the reconciliations
have it. Each tell is one REST lookup by the actor; an actor that let the order go (the lookup
found it ended) ends the following.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from actors.messages import OrderActivity, Timer

AGAIN_S = 1.0
"""The first look again after the stream's report (then 2, 4, 8 ... s)."""
TRIES = 5
"""Reports sent again at most (1 + 2 + 4 + 8 + 16 s: about half a minute of REST lag)."""
FOLLOW_S = 60.0
"""A report is followed at most this long (the stop watch's streamed pace: it has looked
since)."""


@dataclass(slots=True)
class _Followed:
    symbol: str
    since: float
    due_at: float
    published: Any
    """The actor's published state when it was last told (it has handled it once this
    changed)."""
    tries: int = 0


def live_in(published: Any, client_order_id: str) -> bool:
    """Whether the actor's published state holds the order live (pending or open) and is not
    cancelling it itself."""
    orders = getattr(getattr(published, "state", None), "orders", ()) or ()
    return any(o.client_order_id == client_order_id and o.status.live
               and o.cancel_requested_at is None for o in orders)


class EndedOrders:
    def __init__(self, *, views: Mapping[str, Any], deliver: Callable[[str, Any], bool],
                 logger: Any, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.views = views
        self.deliver = deliver
        self.log = logger
        self.monotonic = monotonic
        self.again = 0
        """Reports sent again because the actor still held the order live."""
        self._followed: dict[str, _Followed] = {}
        self._lock = threading.Lock()

    def tell(self, symbol: str, client_order_id: str) -> bool:
        """Tell `symbol`'s actor that the stream ended this order (the streams' thread), and
        follow it; False when no actor took it. The published state is read before the tell:
        an actor quick to handle it has published after it, never before."""
        published = self.views.get(symbol)
        if not self.deliver(symbol, OrderActivity(client_order_ids=(client_order_id,))):
            return False
        # a Timer right behind it, as the stop watch does: a removed stop is re-placed (or
        # the position closed) in the same breath, not at the next timer
        self.deliver(symbol, Timer())
        now = self.monotonic()
        with self._lock:
            self._followed[client_order_id] = _Followed(
                symbol=symbol, since=now, due_at=now + AGAIN_S, published=published)
        return True

    def due(self) -> int:
        """Tell again the actors that still hold a streamed-ended order live; returns how many
        were told. Called often (the stream feed's watch thread)."""
        now = self.monotonic()
        send: list[tuple[str, str]] = []
        with self._lock:
            for cid, f in list(self._followed.items()):
                if now < f.due_at:
                    continue
                published = self.views.get(f.symbol)
                if not live_in(published, cid):
                    del self._followed[cid]  # the actor let it go (or never held it)
                elif f.tries >= TRIES or now - f.since >= FOLLOW_S:
                    del self._followed[cid]
                    self.log.bind(symbol=f.symbol).warning(
                        "order {} ended on the order stream, but its actor still holds it "
                        "live after {} reports (the exchange's lookup lists it live?); left "
                        "to the stop watch and the reconciliations", cid, f.tries + 1)
                elif published is not f.published:  # the actor has handled the last report
                    f.tries += 1
                    f.published = published
                    f.due_at = now + AGAIN_S * 2 ** f.tries
                    send.append((f.symbol, cid))
        for symbol, cid in send:
            if self.deliver(symbol, OrderActivity(client_order_ids=(cid,))):
                self.deliver(symbol, Timer())
                self.again += 1
        return len(send)
