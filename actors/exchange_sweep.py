"""The all-symbol sweep (issue 12, REST cost): on a live account flat symbols get no periodic
reconciliation of their own (supervision/reconcile_schedule.py); this looks, for all of them at
once, for what the streams or the REST polls could have missed: a position or an open order on
one of our symbols that its actor does not hold.

One thread per account. Every `interval_s` while `streams_ok()`, and every `down_interval_s`
while not (the reconcile interval: flat symbols of a live venue are then left to this too,
supervision/reconcile_schedule.py; None: no sweep while down): one all-symbol position read
and one all-symbol open-order read (Binance: positionRisk 5 + openOrders 40 + openAlgoOrders 40
weight; Bybit: one position/list and one open-order read per settle coin of the symbols),
compared with what each actor published (`views`, never asked). A symbol whose exchange
position size differs from its actor's, or with an open order none of its live orders owns,
gets a `Reconcile`; the actor's reconciliation decides (adopt, cancel an orphan, book a fill
only on evidence). A sweep finds differences only, it changes nothing itself.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from actors.messages import Reconcile
from actors.periodic import Periodic
from actors.stream_positions import Sizes, held_sizes, streamed_size
from exchange.port import ExchangePort
from exchange.records import PositionSide, VenueOrder, VenuePosition
from trading.commands import PlaceOrder
from trading.orders import OrderPurpose
from trading.primitives import ZERO

Deliver = Callable[[str, Any], bool]

SWEEP_INTERVAL_S = 300.0


def exchange_sizes(positions: list[VenuePosition]) -> dict[str, Sizes]:
    """Per symbol, the exchange's sizes keyed like `held_sizes` (NET signed, LONG, SHORT)."""
    out: dict[str, Sizes] = {}
    for p in positions:
        sizes = out.setdefault(p.symbol, {side: ZERO for side in PositionSide})
        size = streamed_size(p)
        if p.position_side is PositionSide.NET:
            sizes[PositionSide.NET] += size
            sizes[PositionSide.LONG if size > 0 else PositionSide.SHORT] += abs(size)
        else:
            sizes[p.position_side] += size
            sign = 1 if p.position_side is PositionSide.LONG else -1
            sizes[PositionSide.NET] += sign * size
    return out


IN_FLIGHT = frozenset({OrderPurpose.ENTRY, OrderPurpose.CLOSE, OrderPurpose.EMERGENCY})
"""Market orders: one of them live (sent, its fill not yet booked) moves the position on the
venue before the actor holds it."""


def in_flight(state: Any) -> bool:
    """True when `state` holds a live market order of its own: its size may differ from the
    venue's until that order's answer or fill report is handled."""
    return any(getattr(o, "purpose", None) in IN_FLIGHT and o.status.live
               for o in getattr(state, "orders", ()) or ())


def publishes_first(command: Any) -> bool:
    """True for the placing of any order: its actor publishes its state before sending it, so
    a sweep sees a market order (`IN_FLIGHT`) in flight, not a size the venue has first, and
    owns any order the venue lists before its answer is handled (found in session 50's
    failover bench: only market orders were published first, and a sweep whose read landed
    while a new stop's answer was on its way warned `open order ...-48s owned by no live
    order; reconciling` 22 ms before that stop's StopPlaced)."""
    return isinstance(command, PlaceOrder)


def differences(views: Mapping[str, Any], symbols: list[str], positions: list[VenuePosition],
                orders: list[VenueOrder],
                before: Mapping[str, Any] | None = None) -> dict[str, str]:
    """Per symbol of ours that needs a look, why (one line). `before`: each symbol's published
    state as it was when the reads were sent; what the reads answer matches the actor when it
    matches its state then or now (found running a cluster by the README: an entry that filled
    between the read and the comparison was a WARNING `exchange size 0, held 0.001` on a
    healthy run, and a needless reconciliation). Sizes are not compared while the actor has an
    entry or close in flight, then or now (`in_flight`): the venue lists its fill before the
    actor has its answer (30 WARNINGs `exchange size 0.05, held 0` in a healthy 30-kill
    failover bench); that order's answer, fill report or lookup settles it, and a symbol with a
    live order is reconciled on its own schedule (supervision/reconcile_schedule.py)."""
    flat = {side: ZERO for side in PositionSide}
    on_exchange = exchange_sizes(positions)
    earlier = before or {}
    found: dict[str, str] = {}
    for symbol in symbols:
        state = getattr(views.get(symbol), "state", None)
        if state is None:
            continue  # not started or not published yet: its start-up reconcile looks
        held, there = held_sizes(state), on_exchange.get(symbol, flat)
        then = earlier.get(symbol)
        if in_flight(state) or in_flight(then):
            continue
        if held != there and (then is None or held_sizes(then) != there):
            found[symbol] = (f"sweep: exchange size {there[PositionSide.NET]}, "
                             f"held {held[PositionSide.NET]}")
    by_symbol: dict[str, list[VenueOrder]] = {}
    for order in orders:
        by_symbol.setdefault(order.symbol, []).append(order)
    for symbol, listed in by_symbol.items():
        state = getattr(views.get(symbol), "state", None)
        if state is None or symbol in found:
            continue
        live = {o.client_order_id for o in (*getattr(state, "orders", ()),
                                            *getattr(earlier.get(symbol), "orders", ()))}
        unowned = [o for o in listed if o.client_order_id not in live]
        if unowned:
            found[symbol] = (f"sweep: open order {unowned[0].client_order_id or unowned[0].id} "
                             "owned by no live order")
    return found


class ExchangeSweep:
    def __init__(self, *, exchange: ExchangePort, symbols: list[str], views: Mapping[str, Any],
                 deliver: Deliver, logger: Any, interval_s: float = SWEEP_INTERVAL_S,
                 streams_ok: Callable[[], bool] = lambda: False,
                 down_interval_s: float | None = None,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.exchange = exchange
        self.symbols = symbols
        self.views = views
        self.deliver = deliver
        self.log = logger
        self.interval_s = interval_s
        self.streams_ok = streams_ok
        self.down_interval_s = down_interval_s
        self._now = monotonic
        self.sweeps = 0
        self.reconciles = 0
        """Reconciles sent for a difference found."""
        self._kept: dict[str, str] = {}
        """The difference each symbol showed at the last sweep: the same one again (a position
        flagged, not adopted; a side mismatch a person must sort out) is logged once, not as a
        WARNING every round while it lasts (found by review)."""
        self._loop = Periodic(
            name="exchange-sweep", work=self.sweep_once, pace=self.pace, logger=logger,
            look_s=min(interval_s, down_interval_s or interval_s), what="exchange sweep",
            monotonic=monotonic, first_at_start=False)

    def start(self) -> None:
        if self.interval_s > 0:
            self._loop.start()

    def stop(self) -> None:
        self._loop.stop()

    def pace(self) -> float | None:
        """Seconds between sweeps now (None: none while the streams are down)."""
        return self.interval_s if self.streams_ok() else self.down_interval_s

    def sweep_once(self) -> int:
        """One all-symbol look; returns how many symbols were sent a Reconcile."""
        ours = set(self.symbols)
        before = {symbol: getattr(self.views.get(symbol), "state", None)
                  for symbol in self.symbols}
        positions = [p for p in self.exchange.fetch_positions(None) if p.symbol in ours]
        orders = [o for o in self.exchange.fetch_open_orders(None) if o.symbol in ours]
        self.sweeps += 1
        sent = 0
        found = differences(self.views, self.symbols, positions, orders, before)
        kept, self._kept = self._kept, dict(found)
        for symbol, why in found.items():
            log = self.log.bind(symbol=symbol)
            if kept.get(symbol) == why:
                log.debug("{} (as at the last sweep); reconciling", why)
            else:
                log.warning("{}; reconciling", why)
            if self.deliver(symbol, Reconcile(reason=why)):
                sent += 1
        self.reconciles += sent
        return sent
