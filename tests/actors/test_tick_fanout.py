"""Many prices at once (one venue message, one poll): every price into its slot first, then
the wakes, those of prices leaving their actor's quiet band first (MarketFeed.deliver_ticks)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from loguru import logger

from actors.market_feed import MarketFeed
from actors.messages import TICK_READY, Tick
from actors.price_slots import NO_WAKE, QUIET_WAKE, URGENT_WAKE, PriceSlot, PriceSlots
from actors.wake_pacer import WakePacer
from trading.quiet_band import QuietBand

D = Decimal
SYMS = [f"S{i}/USDT:USDT" for i in range(6)]
BAND = QuietBand(gt=D("99"), lt=D("101"))


def feed(slots: PriceSlots, delivered: list[tuple[str, Any]], running: set[str],
         pace_quiet: bool | WakePacer = False) -> MarketFeed:
    def deliver(symbol: str, message: Any) -> bool:
        delivered.append((symbol, message))
        return symbol in running

    # the exchange is never called: only the delivery path is driven here
    return MarketFeed(exchange=None, symbols=SYMS, deliver=deliver,  # type: ignore[arg-type]
                      interval_s=3600, own_prefix="t-", logger=logger, prices=slots,
                      quiet_wake_s=0.25, pace_quiet=pace_quiet)


def test_offer_tells_an_urgent_wake_from_a_quiet_one():
    slot = PriceSlot()
    slot.publish_band(BAND)
    assert slot.offer(Tick(price=D("100")), now=10.0, quiet_wake_s=0.25) == QUIET_WAKE
    slot.take()
    assert slot.offer(Tick(price=D("100")), now=10.1, quiet_wake_s=0.25) == NO_WAKE
    assert slot.offer(Tick(price=D("98")), now=10.1, quiet_wake_s=0.25) == URGENT_WAKE


def test_crossing_prices_are_woken_before_quiet_ones_and_every_slot_holds_its_price():
    slots = PriceSlots(SYMS)
    for s in SYMS:
        slots.get(s).publish_band(BAND)  # type: ignore[union-attr]
    delivered: list[tuple[str, Any]] = []
    f = feed(slots, delivered, set(SYMS))
    # S1 and S4 cross their band; the others are quiet but due a sampling wake
    prices = {s: D("98") if s in (SYMS[1], SYMS[4]) else D("100") for s in SYMS}
    assert f.deliver_ticks([(s, Tick(price=prices[s])) for s in SYMS]) == 0
    assert delivered == [(s, TICK_READY) for s in (SYMS[1], SYMS[4], SYMS[0], SYMS[2],
                                                     SYMS[3], SYMS[5])]
    for s in SYMS:  # the same slot contents as one deliver_tick per price
        assert slots.get(s).take() == Tick(price=prices[s])  # type: ignore[union-attr]


def test_with_the_pacer_crossings_are_woken_at_once_and_quiet_prices_by_its_thread():
    slots = PriceSlots(SYMS)
    for s in SYMS:
        slots.get(s).publish_band(BAND)  # type: ignore[union-attr]
    delivered: list[tuple[str, Any]] = []
    f = feed(slots, delivered, set(SYMS), pace_quiet=WakePacer(spread_s=0.125))
    assert f.pacer is not None
    prices = {s: D("98") if s in (SYMS[1], SYMS[4]) else D("100") for s in SYMS}
    assert f.deliver_ticks([(s, Tick(price=prices[s])) for s in SYMS]) == 0
    # the crossings were woken on the caller's thread, before deliver_ticks returned
    assert delivered[:2] == [(SYMS[1], TICK_READY), (SYMS[4], TICK_READY)]
    # the pacer counts a wake just after delivering it: wait for the pacer, not for the list
    assert f.pacer.wait_delivered(30), "the quiet wakes were not delivered"
    assert sorted(s for s, _ in delivered[2:]) == [SYMS[0], SYMS[2], SYMS[3], SYMS[5]]
    assert f.pacer.sent == 4 and f.pacer.queued == 0
    f.stop()
    for s in SYMS:
        assert slots.get(s).take() == Tick(price=prices[s])  # type: ignore[union-attr]


def test_a_wake_that_cannot_be_delivered_is_counted_and_rearmed():
    slots = PriceSlots(SYMS)
    delivered: list[tuple[str, Any]] = []
    f = feed(slots, delivered, set(SYMS[1:]))
    assert f.deliver_ticks([(SYMS[0], Tick(price=D("1"))), (SYMS[1], Tick(price=D("1")))]) == 1
    # the failed wake was re-armed: the next price for S0 wakes again
    assert f.deliver_ticks([(SYMS[0], Tick(price=D("2")))]) == 1
    assert [s for s, _ in delivered] == [SYMS[0], SYMS[1], SYMS[0]]


def test_a_symbol_without_a_slot_gets_the_price_as_a_message():
    slots = PriceSlots(SYMS[:1])
    delivered: list[tuple[str, Any]] = []
    f = feed(slots, delivered, set(SYMS))
    tick = Tick(price=D("5"))
    assert f.deliver_ticks([(SYMS[2], tick)]) == 0
    assert delivered == [(SYMS[2], tick)]


def test_a_crossing_behind_a_quiet_wake_the_pacer_still_holds_is_woken_at_once():
    """The pacer holds a symbol's quiet wake (its pending flag set); a price that then leaves
    the band must not wait for it (found by bench: crossings waited up to the pacer's spread)."""
    slot = PriceSlot()
    slot.publish_band(BAND)
    assert slot.offer(Tick(price=D("100")), now=10.0, quiet_wake_s=0.25) == QUIET_WAKE
    assert slot.offer(Tick(price=D("100.5")), now=10.01, quiet_wake_s=0.25) == NO_WAKE
    assert slot.offer(Tick(price=D("98")), now=10.02, quiet_wake_s=0.25) == URGENT_WAKE
    assert slot.offer(Tick(price=D("97")), now=10.03, quiet_wake_s=0.25) == NO_WAKE  # woken
    slots = PriceSlots(SYMS[:1])
    slots.get(SYMS[0]).publish_band(BAND)  # type: ignore[union-attr]
    delivered: list[tuple[str, Any]] = []
    # a pacer of the test's: the quiet wake stays queued
    f = feed(slots, delivered, set(SYMS), pace_quiet=WakePacer(spread_s=3600.0, threaded=False))
    assert f.pacer is not None
    f.deliver_ticks([(SYMS[0], Tick(price=D("100")))])
    assert delivered == [] and f.pacer.queued == 1
    f.deliver_ticks([(SYMS[0], Tick(price=D("98")))])
    assert delivered == [(SYMS[0], TICK_READY)]
    assert slots.get(SYMS[0]).take_all() == (Tick(price=D("98")),)  # type: ignore[union-attr]
