"""Stop watch (issue 12): a stop canceled, expired or rejected on the exchange is noticed within
about one check interval instead of at the next periodic reconciliation (29 s in the emulator
run, while the bot believed the position protected and a price ran through the level).

One thread per account. Every `interval_s` it reads, from what each actor published, the
acknowledged stops of open positions (both styles: the one-way position's stop, each grid leg's
stop), and asks the exchange for that one order by id: one call per resting stop per interval,
the cheapest look the venue offers, so the rate budget stays predictable (N open positions ->
N calls per interval). A stop the exchange no longer has open is reported to its symbol's
mailbox as the same `OrderActivity` the fill feed sends, followed by a `Timer`: the actor looks
the order up, applies what the exchange says (a fill books the close; a cancel, expiry or
rejection marks the position unprotected), and its time-driven duty re-places the stop at once,
or closes the position when the price is already through the stop level (trading/decide.py
`protect`). The actor decides; the watch only notices, so nothing here changes a state.

A stream of order updates (helper "streams") reports the same cancel through the same
`OrderActivity`; while it is up (`streams_ok`) the watch slows to `streamed_interval_s`, and
it is the fallback at full pace while the stream is down or silent. A cancel made while the
stream was reconnecting is in no stream message and in no fill the gap fill reads, so each time
the streams come back (`streams_resumed` counts it) the watch looks once more at full pace:
before, such a stop waited for the slow pace's next round (60 s) while the position was bare.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from actors.command_executor import describe
from actors.messages import OrderActivity, Reconcile, Timer
from actors.periodic import Periodic
from exchange import errors
from exchange.port import ExchangePort
from exchange.records import VenueOrderStatus
from trading.commands import CancelOrder
from trading.frozen import replace
from trading.orders import OrderPurpose, OrderStatus

Deliver = Callable[[str, Any], bool]

STREAMED_INTERVAL_S = 60.0
"""The pace while the order stream is up (`supervision.stop_check_streamed_interval_s`): the
stream reports a stop's cancel at once, so a REST look is only the cheap second check, well
inside the 300 s reconciliation of open symbols then (20 stops at 1 s would be 1,200 of
Binance's 2,400 weight a minute; at 15 s, 80 of the 120 a minute that 5 % allows)."""

RECHECK_ROUNDS = 3
"""A stop reported gone is skipped while its actor handles the report, and looked at again
this many rounds after it when the actor still holds it resting (its lookup found it there:
the watch's answer lagged); before, it was never looked at again while it stayed live. Only
once the actor has published since the report: an actor still busy with it (a slow exchange,
a loaded machine) still shows the stop resting and was reported to a second time."""


@dataclass(frozen=True, slots=True, kw_only=True)
class WatchedStop:
    symbol: str
    client_order_id: str
    exchange_id: str | None


def resting_stops(views: Mapping[str, Any]) -> list[WatchedStop]:
    """The acknowledged (open) stops in the actors' latest published states, but those their
    actor is cancelling (`cancelling`) and those of no position (`_of_no_position`)."""
    out = []
    for symbol, published in list(views.items()):
        state = getattr(published, "state", None)
        orders: Iterable[Any] = getattr(state, "orders", ()) or ()
        for order in orders:
            if order.purpose is OrderPurpose.STOP and order.status is OrderStatus.OPEN \
                    and order.cancel_requested_at is None and not _of_no_position(state, order):
                out.append(WatchedStop(symbol=symbol, client_order_id=order.client_order_id,
                                       exchange_id=order.exchange_id))
    return out


def _of_no_position(state: Any, order: Any) -> bool:
    """A one-way stop of no current position: its position closed and its cancel is on the way,
    or was lost with a kill (the core marks no cancel for the stops `position_closed` cancels,
    so the restored books hold it open). It protects nothing: the actor cancels such strays
    itself (`SymbolState.strays`). Found by live chaos (Bybit): a restart's first round
    warned `stop X is canceled on the exchange` of the stop the killed incarnation cancelled,
    and reported it lost. A grid stop of a flat leg, or of an earlier position of its leg:
    `close_leg` keeps a closed leg's stop, unmarked, while a level of its side is live (a level
    filling first opens a position it covers) and no longer counts it as the leg's protection
    (`GridState.covered`, `of_current`); when it then ends on the exchange (the price ran
    through it: the venue cancels a reduce-only trigger of a flat side, Bybit's
    CancelByReduceOnly) the watch warned `stop X is canceled` of a leg holding nothing (found
    twice this session: paper grid chaos, seed 4742, 3 in 100 kills; live grid chaos, seeds
    4631 and 4632). Reconciliation books its end; a level that fills makes the leg open, and
    its own stop follows."""
    if not hasattr(state, "strays"):
        leg_of, side = getattr(state, "leg", None), getattr(order, "leg", None)
        if not callable(leg_of) or side is None:
            return False
        of_current = getattr(state, "of_current", None)
        return not leg_of(side).is_open or (of_current is not None and not of_current(order))
    pos = state.position
    return pos is None or order.position_id not in (None, pos.position_id)


def _closing(published: Any, cid: str) -> bool:
    """Whether the stop's actor, as it last published, has its own close of the stop's
    position (or leg) in flight: Bybit cancels a reduce-only stop once the position it reduces
    is gone, so the watch warned `stop X is canceled on the exchange` of a position being
    closed (live one-way chaos review): no stop lost, said at INFO."""
    orders = getattr(getattr(published, "state", None), "orders", ()) or ()
    stop = next((o for o in orders if o.client_order_id == cid), None)
    return stop is not None and any(
        o.purpose in (OrderPurpose.CLOSE, OrderPurpose.EMERGENCY) and o.status.live
        and o.leg == stop.leg for o in orders)


def cancelling(state: Any, command: Any, now: float) -> Any | None:
    """What an actor publishes right before it sends `command` from a message still being
    decided, when that is the cancel of one of its stops: its state with that stop marked as
    being cancelled (the grid's state marks it already; the one-way core's does not). An actor
    publishes once a message is decided, and a round that looked in between found the stop it
    was replacing (or taking off a closed position) canceled on the exchange and reported it
    lost. None: not a stop's cancel, nothing to publish."""
    if not (isinstance(command, CancelOrder) and command.stop and command.client_order_id):
        return None
    cid = command.client_order_id
    orders = tuple(replace(o, cancel_requested_at=now)
                   if o.client_order_id == cid and o.cancel_requested_at is None else o
                   for o in state.orders)
    return replace(state, orders=orders)


class StopWatch:
    def __init__(self, *, exchange: ExchangePort, views: Mapping[str, Any], deliver: Deliver,
                 interval_s: float, logger: Any,
                 monotonic: Callable[[], float] = time.monotonic,
                 streams_ok: Callable[[], bool] = lambda: False,
                 streamed_interval_s: float = STREAMED_INTERVAL_S,
                 streams_resumed: Callable[[], int] = lambda: 0,
                 unprotected: Callable[[str, str], object] | None = None) -> None:
        self.exchange = exchange
        self.unprotected = unprotected
        """(symbol, text): a lost stop its actor cannot be told of (runtime wiring: the
        account's `unprotected` alert)."""
        self.views = views
        self.deliver = deliver
        self.interval_s = interval_s
        self.streams_ok = streams_ok
        """True while the venue's order stream reports stop cancels itself (runtime wiring)."""
        self.streams_resumed = streams_resumed
        """How often the streams came back after a gap (runtime wiring: StreamFeed.resumed)."""
        self._resumed_looked = 0
        """`streams_resumed()` when the last round began."""
        self.streamed_interval_s = max(streamed_interval_s, interval_s)
        self.log = logger
        self.checks = 0
        """Stop lookups made (one exchange call each)."""
        self.reported = 0
        """Stops found gone and reported to their actor."""
        self._round = 0
        self._reported: dict[str, tuple[int, Any]] = {}
        """Client order id -> the round it was reported gone in and its actor's published
        state then (`RECHECK_ROUNDS`)."""
        self._unreadable: dict[str, str] = {}
        """Client order id -> the kind of error its last look met (found by review: the same
        WARNING at every round of an outage, for every resting stop)."""
        self._unsent: dict[str, str] = {}
        """Client order id -> what the exchange said of a stop whose report reached no running
        actor: warned once per stop and state, not every round (found by review: a quarantined
        symbol's lost stop repeated its WARNING every interval)."""
        self._loop = Periodic(name="stop-watch", work=self.check_once, pace=self.pace,
                              look_s=interval_s, logger=logger, what="stop watch round",
                              monotonic=monotonic)

    def start(self) -> None:
        if self.interval_s > 0:
            self._loop.start()

    def stop(self) -> None:
        self._loop.stop()

    def pace(self) -> float:
        """Seconds between rounds: `interval_s`, or `streamed_interval_s` while the order
        stream carries stop cancels (looked at every `interval_s`, so a stream going down
        brings the fast pace back within one interval), once it has been looked at since the
        streams last came back."""
        if self.streams_ok() and self.streams_resumed() == self._resumed_looked:
            return self.streamed_interval_s
        return self.interval_s

    def check_once(self) -> int:
        """Look every resting stop up once; returns how many were found gone."""
        gone = 0
        self._resumed_looked = self.streams_resumed()
        watched = resting_stops(self.views)
        live = {w.client_order_id for w in watched}
        self._round += 1  # a stop the actor replaced or dropped is no longer "reported"
        self._reported = {c: r for c, r in self._reported.items() if c in live}
        self._unsent = {c: f for c, f in self._unsent.items() if c in live}
        self._unreadable = {c: k for c, k in self._unreadable.items() if c in live}
        for stop in watched:
            if self._loop.stopping:
                break
            reported = self._reported.get(stop.client_order_id)
            if reported is not None and (self._round - reported[0] < RECHECK_ROUNDS
                                         or self.views.get(stop.symbol) is reported[1]):
                continue
            found = self._look(stop)
            if found is None:
                continue
            if not self._still_resting(stop):
                continue  # its actor ended it meanwhile (a close, a replacement): not lost
            log = self.log.bind(symbol=stop.symbol)
            if self._unsent.get(stop.client_order_id) == found:
                pass  # said already; its actor is still not running to hear it
            elif found == VenueOrderStatus.CLOSED:  # it fired: its fill is on the way
                log.info("stop {} filled on the exchange: telling its actor",
                         stop.client_order_id)
            elif found and _closing(self.views.get(stop.symbol), stop.client_order_id):
                log.info("stop {} is {} on the exchange while its position's close is in "
                         "flight (the venue ends a reduce-only stop with the position it "
                         "reduces): telling its actor", stop.client_order_id, found)
            elif found:
                log.warning("stop {} is {} on the exchange", stop.client_order_id, found)
            else:
                log.warning("stop {} is not on the exchange: reconciling", stop.client_order_id)
            # a stop the exchange still lists as done: the actor applies that report; one it
            # has no record of at all: reconciliation treats a missing live order as canceled
            report = (OrderActivity(client_order_ids=(stop.client_order_id,)) if found
                      else Reconcile(reason=f"stop {stop.client_order_id} not on the exchange",
                                     urgent=True))
            published = self.views.get(stop.symbol)
            if self.deliver(stop.symbol, report):
                self.deliver(stop.symbol, Timer())  # re-place (or close) in the same breath
                self._reported[stop.client_order_id] = (self._round, published)
                self.reported += 1
                gone += 1
                self._unsent.pop(stop.client_order_id, None)
            elif self._unsent.get(stop.client_order_id) != found:  # no running actor
                self._unsent[stop.client_order_id] = found
                self._not_told(stop, found)
        return gone

    def _not_told(self, stop: WatchedStop, found: str) -> None:
        """Found by review: the symbol's status shows its last published state (stop
        acknowledged), so the coverage alert counts the position protected; only the watch
        knows it is not. Alerted once per stop and state."""
        if self.unprotected is None:
            return
        how = f"is {found}" if found else "is not"
        self.unprotected(stop.symbol, f"stop {stop.client_order_id} {how} on the exchange and the "
                   f"symbol's actor does not run to re-place it: its position has no exchange "
                   f"stop until the actor runs again (quarantined: `bot.py resume "
                   f"{stop.symbol}`)")

    def _look(self, stop: WatchedStop) -> str | None:
        """None: still resting (or unreadable: look again next round). The status the exchange
        reports it done with (canceled, expired, rejected or filled). "": no record of it."""
        self.checks += 1
        try:
            found = self.exchange.fetch_order(
                stop.exchange_id, stop.symbol,
                {"clientOrderId": stop.client_order_id, "trigger": True})
        except errors.OrderNotFound:
            return ""
        except Exception as exc:  # noqa: BLE001 - unknown is not gone: look again next round
            kind = type(exc).__name__
            if self._unreadable.get(stop.client_order_id) != kind:  # once per kind, not round
                self._unreadable[stop.client_order_id] = kind
                self.log.bind(symbol=stop.symbol).warning(
                    "stop {} unreadable: {}", stop.client_order_id, describe(exc))
            return None
        if self._unreadable.pop(stop.client_order_id, None) is not None:
            self.log.bind(symbol=stop.symbol).info("stop {} readable again",
                                                   stop.client_order_id)
        if found.status.is_open:
            return None
        return found.status.value

    def _still_resting(self, stop: WatchedStop) -> bool:
        """Whether the stop's actor, as it published itself after the look, still holds the
        stop resting: one it cancelled itself while the look was in flight (a close, a grid
        leg's replacement) is no stop lost on the exchange (found by review: each was a
        WARNING 'stop X is canceled on the exchange' and a report to the actor)."""
        now = resting_stops({stop.symbol: self.views.get(stop.symbol)})
        return any(w.client_order_id == stop.client_order_id for w in now)
