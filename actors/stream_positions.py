"""Positions from the venue's stream (issue 12): a size that differs from what the symbol's actor
holds gets that symbol a `Reconcile` within about a second, instead of at the periodic one.

A streamed position is never evidence of anything in our books (trading/evidence.py: a position
is closed only on a fill): a flat or smaller position on the stream only makes the actor look,
and its reconciliation decides on the exchange's fills and orders. What the actor holds is read
from what it published (`views`, the way actors/stop_watch.py reads them), never asked.

A stream update usually leads the actor's view: our own entry or close fills on the venue, the
position message goes out with the fill, and the actor takes the fill a little later. So a
difference is acted on only when it is still there `grace_s` later; and the same difference
(same sizes on both sides) is reported three times at most (`AGAIN_S`: a venue's trade list
may not have the fill that explains it yet), so a contradiction that reconciliation cannot
resolve (fills that explain only part of a change) does not become a loop of REST lookups.
At most one Reconcile per symbol per `min_gap_s`, and none while the last one sent is still
waiting in the actor's mailbox: that one reads the exchange afresh when it runs.

The warning (`position stream: net 0.002 on the venue, 0 in our books; reconciling`) is logged
when the actor, at the Reconcile's turn, still holds another size (`Reconcile.needed`), not when
it is sent: an actor publishes once a message is decided, so an entry whose create and stop
answers take longer than the grace (two order round trips) still showed flat then. A live run
against the Bybit emulator logged it for 3 of ~16 healthy entries, each ~0.2 s after the
actor's own `PositionOpened` line (tests/actors/test_stream_position_own_entry.py). Found by a
soak against the Bybit emulator: reconciles queued behind the actor's budget waits (median
5.6 s from send to start) were sent again every second, 701 in 8 minutes for one account,
most of them stale by the time they ran, and their reads drained the budget.

In a hedge-mode account a NET row (one-way position, Binance's "BOTH") says nothing about the
legs and is set aside: Binance pushes the symbol's BOTH row (pa 0 in a hedge account) with
every ACCOUNT_UPDATE, next to the changed LONG or SHORT row (its user data stream upgrade
notice), and ccxt.pro parses it as a flat net position. Compared with the grid's long - short
it read "net 0 on the venue, X in our books" after every leg change of a grid whose legs
differ, a Reconcile that could never resolve (a dozen REST reads each). The account's mode is
the actor's style (`hedge_account`), never guessed from the row.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from actors.messages import Reconcile
from exchange.records import PositionSide, VenuePosition
from trading.primitives import ZERO

GRACE_S = 0.5
"""How long a streamed size may lead the actor's view before the symbol is reconciled."""
MIN_GAP_S = 1.0
"""At most one position-stream Reconcile per symbol this often."""
AGAIN_S = (5.0, 20.0)
"""A difference the reconciliation did not settle is sent again this long after each send
(then left to the periodic reconciles): a venue's trade list lags its positions (Binance's
userTrades list a fill a second or more late), so a position closed by hand was found gone
with no fill explaining it, stayed open in our books (trading/evidence.py) and was looked at
again only by the periodic reconcile, 300 s while the streams are up. Twice, not for ever: a
difference fills cannot explain must not become a loop of REST reads."""
LAST_AGAIN = f" again ({len(AGAIN_S)} of {len(AGAIN_S)})"
"""The last send of a difference: one that finds no actor then is said in a warning. Found by a
live hedge grid on the Bybit emulator: a grid actor trades inside its start (seconds of order
calls), and the supervisor hands a starting actor order reports only; each Reconcile of its
start said `its actor does not run to reconcile it` (4 in a healthy start), and the send 5 s
later reached it."""
QUEUED_MAX_S = 60.0
"""A Reconcile sent this long ago and not handled yet counts as lost: an actor that crashed
with it in its mailbox never handles it (pykka drops the mailbox), and waiting on it blocked
the symbol's position-stream Reconciles for the rest of the process (found by a live soak
review). The restarted actor reconciles on start anyway; this reopens the stream's path."""

Sizes = dict[PositionSide, Decimal]


def hedge_account(state: Any) -> bool:
    """True when the symbol's actor runs the hedge grid (its state has the two legs): the
    account is then in hedge mode. The settings tie the two (config/settings.py
    `_check_strategy`: exchange.hedge_mode = true is required by strategy "hedge_grid" and
    allowed with nothing else), and the style is what this path knows of the mode."""
    return hasattr(state, "long") and hasattr(state, "short")


def held_sizes(state: Any) -> Sizes:
    """What the actor's published state holds, keyed like streamed positions: NET signed (short
    < 0), LONG and SHORT as sizes. One-way style: `state.position`; hedge grid: the two legs."""
    long_, short = ZERO, ZERO
    if hedge_account(state):  # the hedge grid's legs
        long_, short = state.long.contracts, state.short.contracts
    else:
        pos = getattr(state, "position", None)
        if pos is not None:
            long_, short = ((pos.contracts, ZERO) if pos.side.sign > 0
                            else (ZERO, pos.contracts))
    return {PositionSide.NET: long_ - short, PositionSide.LONG: long_, PositionSide.SHORT: short}


def streamed_size(p: VenuePosition) -> Decimal:
    if p.position_side is PositionSide.NET and p.side == "short":
        return -p.contracts
    return p.contracts


class PositionCheck:
    def __init__(self, *, views: Mapping[str, Any], deliver: Callable[[str, Any], bool],
                 logger: Any, grace_s: float = GRACE_S, min_gap_s: float = MIN_GAP_S,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.views = views
        self.deliver = deliver
        self.log = logger
        self.grace_s = grace_s
        self.min_gap_s = min_gap_s
        self.monotonic = monotonic
        self.streamed = 0
        """Position updates taken from the stream."""
        self.ignored = 0
        """NET (Binance "BOTH") rows of a hedge-mode account, set aside: they say nothing
        about the legs."""
        self.reconciles = 0
        """Reconciles sent because a streamed size differed from the actor's."""
        self.settled = 0
        """Of those, the ones the actor found settled when their turn came (not run)."""
        self._sizes: dict[str, Sizes] = {}
        self._pending: dict[str, float] = {}
        self._last_sent: dict[str, float] = {}
        self._reported: dict[str, str] = {}
        self._queued: dict[str, tuple[threading.Event, float]] = {}
        """Per symbol: the last Reconcile sent, until the actor has handled it."""
        self._again: dict[str, tuple[int, float]] = {}
        """Per symbol whose reported difference may be sent again: sends again so far, and
        when the next is due (AGAIN_S)."""
        self._lock = threading.Lock()

    def on_positions(self, positions: list[VenuePosition]) -> None:
        """The streams' thread: note the sizes; a difference waits for `due` (grace)."""
        now = self.monotonic()
        with self._lock:
            for p in positions:
                if p.position_side is PositionSide.NET and self._hedge(p.symbol):
                    self.ignored += 1
                    continue
                sizes = self._sizes.setdefault(p.symbol, {})
                size = streamed_size(p)
                if sizes.get(p.position_side) != size:
                    self._reported.pop(p.symbol, None)  # news from the venue: report again
                sizes[p.position_side] = size
                self.streamed += 1
                if self._difference(p.symbol) is not None:
                    self._pending.setdefault(p.symbol, now)

    def due(self) -> int:
        """Send a Reconcile to each symbol whose difference outlived the grace; returns how
        many were sent. Called often (the stream feed's watch thread)."""
        now = self.monotonic()
        send: list[tuple[str, str, threading.Event, str]] = []
        with self._lock:
            for symbol, since in list(self._pending.items()):
                diff = self._difference(symbol)
                if diff is None or self._reported.get(symbol) == diff:
                    del self._pending[symbol]  # the actor caught up, or this was reported
                    continue
                if (now - since < self.grace_s
                        or now - self._last_sent.get(symbol, -float("inf")) < self.min_gap_s
                        or self._waiting(symbol, now)):
                    continue
                del self._pending[symbol]
                self._again[symbol] = (0, now + AGAIN_S[0])
                send.append(self._sent(symbol, diff, now, ""))
            send += self._again_due(now)
        for symbol, diff, handled, still in send:
            message = Reconcile(reason=f"position stream: {diff}", handled=handled,
                                needed=functools.partial(self._still, symbol, diff, still))
            if self.deliver(symbol, message):
                self.reconciles += 1
            else:
                handled.set()  # no actor took it: nothing is queued
                if still == LAST_AGAIN:  # an actor still starting takes one of the sends again
                    self.log.bind(symbol=symbol).warning(
                        "position stream: {}; its actor does not run to reconcile it{}", diff,
                        still)
        return len(send)

    def _sent(self, symbol: str, diff: str, now: float,
              still: str) -> tuple[str, str, threading.Event, str]:
        """Note a Reconcile about to be sent (under the lock)."""
        self._last_sent[symbol] = now
        self._reported[symbol] = diff
        handled = threading.Event()
        self._queued[symbol] = (handled, now)
        return symbol, diff, handled, still

    def _again_due(self, now: float) -> list[tuple[str, str, threading.Event, str]]:
        """The reported differences still there when their next send is due (AGAIN_S), once
        the last Reconcile was handled (under the lock)."""
        send = []
        for symbol, (times, at) in list(self._again.items()):
            diff = self._difference(symbol)
            if diff is None or diff != self._reported.get(symbol):
                del self._again[symbol]  # settled, or news from the venue (pending again)
                continue
            if now < at or self._waiting(symbol, now):
                continue
            if times + 1 < len(AGAIN_S):
                self._again[symbol] = (times + 1, now + AGAIN_S[times + 1])
            else:
                del self._again[symbol]
            still = f" again ({times + 1} of {len(AGAIN_S)})"
            send.append(self._sent(symbol, diff, now, still))
        return send

    def _still(self, symbol: str, sent: str, again: str = "") -> bool:
        """Asked by the actor when the Reconcile's turn comes: whether the streamed sizes still
        differ from what it holds now (most often it booked the change meanwhile); said in one
        warning when they do. `sent`: the difference the Reconcile was sent for; `again`: which
        send again this is (AGAIN_S), or "". Another difference by then is newer news (found by
        a live grid on the Bybit emulator: the other leg's take-profit had just filled, its
        report right behind this Reconcile, 7 false warnings in 3 healthy minutes): it takes
        its own grace, sent once this Reconcile is handled (`due`) if the actor has not booked
        it by then."""
        with self._lock:
            diff = self._difference(symbol)
            if diff is None or diff != sent:
                self.settled += 1
                if diff is not None:
                    self._pending.setdefault(symbol, self.monotonic())
                return False
        self.log.bind(symbol=symbol).warning("position stream: {}; reconciling{}", diff, again)
        return True

    def _waiting(self, symbol: str, now: float) -> bool:
        """The last Reconcile sent to `symbol` still waits in its actor's mailbox (not yet
        handled, and not so old that it counts as lost: QUEUED_MAX_S)."""
        queued = self._queued.get(symbol)
        return queued is not None and not queued[0].is_set() and now - queued[1] < QUEUED_MAX_S

    def _difference(self, symbol: str) -> str | None:
        """'net 0 on the venue, 0.01 in our books' where the sizes differ, else None (also
        when the symbol has no actor view yet: it reconciles when it starts)."""
        published = self.views.get(symbol)
        state = getattr(published, "state", None)
        if state is None:
            return None
        held = held_sizes(state)
        hedge = hedge_account(state)
        for side, size in sorted(self._sizes.get(symbol, {}).items()):
            if hedge and side is PositionSide.NET:
                continue  # taken before the actor published its state: not about the legs
            ours = held[side]
            if size != ours:
                return f"{side.value} {_plain(size)} on the venue, {_plain(ours)} in our books"
        return None

    def _hedge(self, symbol: str) -> bool:
        """The symbol's account is in hedge mode (as far as its actor's view says yet)."""
        return hedge_account(getattr(self.views.get(symbol), "state", None))


def _plain(number: Decimal) -> str:
    return format(number.normalize(), "f")
