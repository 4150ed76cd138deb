"""Tick conflation: the latest-price slot, the feed's delivery and the actor's side of it."""

from __future__ import annotations

from decimal import Decimal

from actors.messages import TICK_READY, Tick
from actors.price_slots import PriceSlot
from storage import queries
from tests.support.harness import Harness
from tests.support.waiting import wait_until
from trading.model import Side
from trading.quiet_band import ALWAYS_QUIET, QuietBand

D = Decimal
BTC, ETH = "BTC/USDT:USDT", "ETH/USDT:USDT"


def tick(p: str) -> Tick:
    return Tick(price=D(p))


def test_one_wake_per_taken_price_and_the_latest_price_wins():
    slot = PriceSlot()
    assert slot.offer(tick("1"), now=0.0, quiet_wake_s=None)  # no band yet: wake
    assert not slot.offer(tick("2"), now=0.0, quiet_wake_s=None)  # a wake is pending
    assert not slot.offer(tick("3"), now=0.0, quiet_wake_s=None)
    assert slot.take() == tick("3")
    assert slot.take() is None
    assert slot.offer(tick("4"), now=0.0, quiet_wake_s=None)  # re-armed by the take
    assert (slot.offered, slot.taken) == (4, 1)


def test_failed_wake_rearms():
    slot = PriceSlot()
    assert slot.offer(tick("1"), now=0.0, quiet_wake_s=None)
    slot.wake_failed()
    assert slot.offer(tick("2"), now=0.0, quiet_wake_s=None)


def test_quiet_prices_wait_but_a_crossing_price_wakes_at_once():
    slot = PriceSlot()
    band = QuietBand(gt=D("99"), lt=D("101"))
    assert slot.publish_band(band) == ()
    assert not slot.offer(tick("100"), now=0.0, quiet_wake_s=None)  # quiet: waits in the slot
    assert slot.waiting
    assert slot.offer(tick("98"), now=0.0, quiet_wake_s=None)  # crosses: wake now
    assert slot.take() == tick("98")
    # with quiet_wake_s, a quiet price still wakes the actor once that long after the last wake
    assert not slot.offer(tick("100"), now=0.1, quiet_wake_s=0.25)
    assert slot.offer(tick("100.5"), now=0.3, quiet_wake_s=0.25)


def test_a_crossing_price_is_kept_and_handed_over_before_the_latest_one():
    slot = PriceSlot()
    slot.publish_band(QuietBand(gt=D("99"), lt=D("101")))
    assert slot.offer(tick("98"), now=0.0, quiet_wake_s=None)  # crosses: wake sent
    assert not slot.offer(tick("100"), now=0.0, quiet_wake_s=None)  # back inside before the take
    assert slot.take_all() == (tick("98"), tick("100"))  # the dip is still acted on, in order
    assert slot.offer(tick("97"), now=0.0, quiet_wake_s=None)
    assert not slot.offer(tick("102"), now=0.0, quiet_wake_s=None)  # also crossing
    assert not slot.offer(tick("103"), now=0.0, quiet_wake_s=None)  # the newer crossing is kept
    assert slot.take_all() == (tick("102"), tick("103"))
    assert slot.take_all() == ()
    assert (slot.offered, slot.taken) == (5, 4)


def test_the_latest_price_is_kept_whatever_the_published_band_says():
    """The band may be older than the actor's state (the actor is deciding the price it took):
    the feed keeps every price the actor may have to judge again, the newest last."""
    slot = PriceSlot()
    slot.publish_band(QuietBand(gt=D("99"), le=D("101")))
    assert slot.offer(tick("101.5"), now=0.0, quiet_wake_s=None)  # a new best
    assert slot.take_all() == (tick("101.5"),)  # the actor decides it (trigger ratchets) ...
    assert slot.offer(tick("101.2"), now=0.0, quiet_wake_s=None)  # ... not quiet (old band)
    assert not slot.offer(tick("100"), now=0.0, quiet_wake_s=None)  # quiet (old band)
    assert slot.publish_band(QuietBand(gt=D("101.1"), le=D("101.5"))) == ()  # a wake is pending
    assert slot.take_all() == (tick("101.2"), tick("100"))  # 100 crosses the new trigger
    assert slot.take() is None


def test_a_replaced_incarnation_neither_takes_prices_nor_publishes_its_band():
    slot = PriceSlot()
    old = slot.reset()
    new = slot.reset()  # the new incarnation starts while the old one is hung
    assert new != old
    slot.publish_band(QuietBand(gt=D("99"), lt=D("101")), new)
    assert slot.offer(tick("98"), now=0.0, quiet_wake_s=None)  # the wake goes to the new one
    assert slot.take_all(old) == () and slot.take(old) is None  # the old one's late wake
    assert slot.publish_band(ALWAYS_QUIET, old) == ()  # and its late band: ignored
    assert slot.waiting and not slot.waiting_quiet()
    assert not slot.offer(tick("97"), now=0.0, quiet_wake_s=None)  # the wake is still pending
    assert slot.take_all(new) == (tick("98"), tick("97"))


def test_time_limited_band_is_never_quiet_for_the_feed():
    slot = PriceSlot()
    slot.publish_band(QuietBand(gt=D("99"), until=1e12))
    assert slot.offer(tick("100"), now=0.0, quiet_wake_s=None)


def test_new_band_hands_back_a_waiting_price_it_no_longer_calls_quiet():
    slot = PriceSlot()
    slot.publish_band(ALWAYS_QUIET)
    assert not slot.offer(tick("98"), now=0.0, quiet_wake_s=None)
    assert slot.publish_band(QuietBand(gt=D("99"))) == (tick("98"),)  # the actor decides it now
    assert not slot.waiting
    assert not slot.offer(tick("100"), now=0.0, quiet_wake_s=None)
    assert slot.publish_band(QuietBand(gt=D("99"))) == ()  # still quiet: keeps waiting
    assert slot.waiting


def test_feed_delivers_a_wake_only_when_none_is_pending(tmp_path):
    h = Harness(tmp_path, [BTC])  # not started: capture what the feed delivers
    sent = []
    h.feed.deliver = lambda symbol, message: sent.append((symbol, message)) or True
    for p in ("100", "101", "102"):
        assert h.feed.deliver_tick(BTC, tick(p))
    assert sent == [(BTC, TICK_READY)]
    assert h.prices.get(BTC).take() == tick("102")
    h.feed.deliver = lambda symbol, message: False  # actor not running
    assert not h.feed.deliver_tick(BTC, tick("103"))
    h.feed.deliver = lambda symbol, message: sent.append((symbol, message)) or True
    assert h.feed.deliver_tick(BTC, tick("104"))  # the failed wake did not stick
    assert sent == [(BTC, TICK_READY), (BTC, TICK_READY)]
    h.repo.close()
    h.paper.close()


def test_actor_ends_on_the_latest_price_of_a_burst(tmp_path):
    h = Harness(tmp_path, [BTC, ETH]).start()
    try:
        h.poll()
        assert h.signal(BTC, Side.LONG)
        h.idle(BTC)
        entry = D(h.view(BTC).position["entry_price"])
        last = entry
        slot = h.prices.get(BTC)
        offered0, taken0 = slot.offered, slot.taken
        for i in range(300):
            last = entry + D(i % 7) * D("0.1")
            h.feed.deliver_tick(BTC, Tick(price=last))
            h.feed.deliver_tick(ETH, Tick(price=D("3000") + i))
        wait_until(lambda: h.view(BTC).position["mark_price"] == str(last),
                   message="BTC on its last price")
        wait_until(lambda: h.prices.get(ETH).taken > 0 and not h.prices.get(ETH).waiting,
                   message="ETH took its prices")
        assert slot.offered - offered0 == 300 and 1 <= slot.taken - taken0 <= 300
    finally:
        h.stop()


def test_a_crossing_price_through_the_feed_closes_the_position(tmp_path):
    # a large step keeps the exchange stop where it is: the bot closes at the trailing trigger
    h = Harness(tmp_path, [BTC], risk={"trailing_step_pct": D("50")}).start()
    try:
        h.poll()
        assert h.signal(BTC, Side.LONG)
        h.idle(BTC)
        view = h.view(BTC)
        entry, activation = D(view.position["entry_price"]), D(view.trailing["activation_price"])
        h.feed.deliver_tick(BTC, Tick(price=activation))
        wait_until(lambda: h.view(BTC).trailing["state"] == "active",
                   message="trailing stop active")
        h.feed.deliver_tick(BTC, Tick(price=entry))  # below the trigger
        wait_until(lambda: h.view(BTC).phase == "flat", message="closed by the bot")
        (closed,) = queries.events(BTC, "PositionClosed")
        assert closed["data"]["reason"] == "trailing_stop"
    finally:
        h.stop()


def test_a_lost_wake_is_recovered_by_the_timer(tmp_path):
    h = Harness(tmp_path, [BTC]).start()
    try:
        h.poll()
        h.idle(BTC)
        slot = h.prices.get(BTC)
        slot.publish_band(None, slot.generation)  # as the running incarnation would
        assert slot.offer(Tick(price=D("12345")), now=0.0, quiet_wake_s=None)  # wake "lost"
        wait_until(lambda: h.view(BTC).last_tick_at is not None and not slot.waiting,
                   message="Timer took the price")
    finally:
        h.stop()


def test_signal_handled_is_committed_with_the_decision_it_caused(tmp_path):
    h = Harness(tmp_path, [BTC]).start()
    try:
        h.poll()
        h.idle(BTC)
        assert h.signal(BTC, Side.LONG)
        h.idle(BTC)
        (received,) = queries.events(BTC, "SignalReceived")
        sid = received["data"]["signal_id"]
        (handled,) = queries.events(BTC, "SignalHandled")
        (requested,) = queries.events(BTC, "EntryRequested")
        assert handled["data"]["signal_id"] == sid
        assert handled["correlation_id"] == requested["correlation_id"] == sid
        assert handled["recorded_at"] == requested["recorded_at"]  # one transaction
        assert h.signal(BTC, None) and h.signal(BTC, None)  # the 2nd exit changes nothing
        h.idle(BTC)
        assert len(queries.events(BTC, "SignalHandled")) == 3
    finally:
        h.stop()
