"""Quiet wakes spread over rounds (actors/wake_pacer.py): a venue push's hundreds of quiet
wakes no longer make hundreds of actor threads runnable at once."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from actors.messages import TICK_READY, Tick
from actors.price_slots import QUIET_WAKE, PriceSlot
from actors.wake_pacer import ROUND_S, WakePacer
from trading.quiet_band import QuietBand

D = Decimal
BAND = QuietBand(gt=D("99"), lt=D("101"))


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def quiet_slot() -> PriceSlot:
    slot = PriceSlot()
    slot.publish_band(BAND)
    assert slot.offer(Tick(price=D("100")), now=1.0, quiet_wake_s=0.25) == QUIET_WAKE
    return slot


def test_a_push_of_500_quiet_wakes_goes_out_in_rounds_within_the_spread():
    clock = Clock()
    delivered: list[tuple[str, Any]] = []
    pacer = WakePacer(spread_s=0.125, clock=clock, threaded=False)
    for i in range(500):
        pacer.add(f"S{i}", quiet_slot(), lambda s, m: delivered.append((s, m)) is None)
    rounds = []
    while pacer.queued:
        rounds.append(pacer.send_round())
        clock.now += ROUND_S
    # 0.125 s at one round per 4 ms: ~31 rounds, the first of ceil(500 * 4 / 125) = 16
    assert rounds[0] == 16
    assert max(rounds) <= 17
    assert 27 <= len(rounds) <= 32
    assert sum(rounds) == 500 == pacer.sent
    # oldest first, each symbol once, a wake each
    assert delivered == [(f"S{i}", TICK_READY) for i in range(500)]


def test_an_overdue_queue_goes_out_in_one_round():
    clock = Clock()
    pacer = WakePacer(spread_s=0.125, clock=clock, threaded=False)
    for i in range(50):
        pacer.add(f"S{i}", quiet_slot(), lambda s, m: True)
    clock.now += 0.2  # (the owner was held up past the spread)
    assert pacer.send_round() == 50


def test_a_wake_for_an_actor_not_running_is_handed_back_to_its_slot():
    pacer = WakePacer(spread_s=0.125, threaded=False)
    down, up = quiet_slot(), quiet_slot()
    pacer.add("DOWN", down, lambda s, m: s != "DOWN")
    pacer.add("UP", up, lambda s, m: s != "DOWN")
    assert pacer.flush() == 2
    assert (pacer.sent, pacer.failed) == (1, 1)
    # the failed slot's next price wakes again; the delivered one's wake stays pending
    assert down.offer(Tick(price=D("100")), now=9.0, quiet_wake_s=0.25) == QUIET_WAKE
    assert up.offer(Tick(price=D("100")), now=9.0, quiet_wake_s=0.25) == 0


def test_stop_sends_what_is_queued():
    delivered: list[str] = []
    pacer = WakePacer(spread_s=1000.0)
    for i in range(20):
        pacer.add(f"S{i}", quiet_slot(), lambda s, m: delivered.append(s) is None)
    pacer.stop()
    assert sorted(delivered) == sorted(f"S{i}" for i in range(20))
    assert pacer.queued == 0


def test_one_pacer_per_process_for_every_feed():
    """Several accounts in one process share one pacer thread (one per account competed for
    the interpreter lock with the actors every round)."""
    from actors.wake_pacer import shared_pacer

    first, second = shared_pacer(0.125), shared_pacer(0.5)
    assert first is second and first.spread_s <= 0.125


def test_each_round_sends_its_share_rounded_up_so_a_small_push_is_not_held_to_the_end():
    """ceil(queued * ROUND_S / time left), at least one: 50 wakes over 0.125 s go 2 a round
    (1.6 rounded up), 10 wakes one a round from the first (0.32 rounded up). Found by mutation:
    rounding down, or dropping the floor of one, passed; a small push then waited for the end
    of the spread and went out in one burst."""
    for count, first in ((50, 2), (10, 1)):
        clock = Clock()
        pacer = WakePacer(spread_s=0.125, clock=clock, threaded=False)
        for i in range(count):
            pacer.add(f"S{i}", quiet_slot(), lambda s, m: True)
        assert pacer.send_round() == first
        assert pacer.sent == first


def test_a_delivery_that_raises_hands_the_wake_back_and_is_counted_done():
    """A delivery that raises is a wake not delivered: handed back to its slot (the symbol's
    next quiet price wakes again, not held behind a pending flag nobody clears) and counted
    done, so `wait_delivered` returns. Found by mutation: taking the exception for a delivery,
    or counting only delivered wakes done, passed."""
    pacer = WakePacer(spread_s=0.125)
    slot = quiet_slot()

    def deliver(symbol: str, message: Any) -> bool:
        raise RuntimeError("mailbox gone")

    pacer.add("BAD", slot, deliver)
    assert pacer.wait_delivered(timeout=10.0)
    assert (pacer.sent, pacer.failed) == (0, 1)
    assert slot.offer(Tick(price=D("100")), now=9.0, quiet_wake_s=0.25) == QUIET_WAKE
    pacer.stop()


def test_the_time_left_runs_from_the_oldest_queued_wake_not_the_newest():
    """Wakes keep coming while a push drains: the spread is counted from the oldest one still
    queued, so it goes out within `spread_s` of its price. Found by mutation: counting from
    the newest passed; every new arrival then pushed the old wakes' deadline back."""
    clock = Clock()
    pacer = WakePacer(spread_s=0.125, clock=clock, threaded=False)
    for i in range(50):
        pacer.add(f"S{i}", quiet_slot(), lambda s, m: True)
    clock.now += 0.123  # (the owner was held up: 2 ms of the oldest's spread left)
    pacer.add("NEW", quiet_slot(), lambda s, m: True)
    assert pacer.send_round() == 51
