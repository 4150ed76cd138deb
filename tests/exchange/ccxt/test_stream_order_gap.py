"""A stop canceled on the exchange while the private stream is reconnecting: its order update
goes to no socket, and the REST gap fill reads fills only, so nothing reports it. The stop
watch, slowed to its streamed pace while the streams are up, used to leave the position bare
until its next slow round (60 s). It now looks once more each time the streams come back.

Both venues: the real ccxt.pro streams and gateway against the emulators, the real stream
feed, the real stop watch (its clock injected, so no round can run but the ones the test lets
happen), a real pykka actor per symbol recording its mailbox."""

from __future__ import annotations

import threading
from collections import Counter
from decimal import Decimal
from types import SimpleNamespace

import pytest
from loguru import logger

from actors.stop_watch import StopWatch
from tests.exchange.ccxt.stream_rig import BTC, PREFIX, StreamRig
from tests.support.waiting import wait_until
from trading.orders import Order, OrderPurpose, OrderStatus


class Views(dict):
    """The actors' published states; says when a watch round has read them."""

    def __init__(self) -> None:
        super().__init__()
        self.read = threading.Event()

    def items(self):  # type: ignore[override]
        out = list(super().items())
        self.read.set()
        return out


class Clock:
    def __init__(self) -> None:
        self.t = 1_000.0

    def __call__(self) -> float:
        return self.t


@pytest.mark.parametrize("venue_id", ["bybit", "binanceusdm"])
def test_a_stop_canceled_during_a_reconnect_is_found_when_the_streams_come_back(
        venue_id, tmp_path):
    rig = StreamRig(venue_id, tmp_path).start()
    watch = None
    try:
        rig.wait_mode("stream")
        rig.buy()
        cid = f"{PREFIX}stop-1"
        rig.gateway.create_order(BTC, "market", "sell", Decimal("0.01"), params={
            "clientOrderId": cid, "stopLossPrice": Decimal("45000"), "reduceOnly": True})
        resting = rig.book.find(cid=cid)
        assert resting is not None and resting.status == "untriggered"
        stop = Order(client_order_id=cid, purpose=OrderPurpose.STOP, side="sell",
                     amount=Decimal("0.01"), price=Decimal("45000"), reduce_only=True,
                     status=OrderStatus.OPEN, exchange_id=resting.oid)
        views = Views()  # empty for the watch's first round (at its start): no lookup
        clock = Clock()
        feed = rig.feed
        # wired as runtime/account.py wires it
        watch = StopWatch(exchange=rig.gateway, views=views, deliver=rig._deliver,
                          interval_s=0.2, logger=logger, monotonic=clock,
                          streams_ok=lambda: feed.mode == "stream" and rig.streams.private,
                          streamed_interval_s=60.0)
        watch.streams_resumed = lambda: feed.resumed
        watch.start()
        assert views.read.wait(10), "the watch's first round"
        # the stop rests (published); the watch's clock stands still until the test moves it
        views[BTC] = SimpleNamespace(state=SimpleNamespace(orders=(stop,)))

        rig.ws.refuse(True)
        rig.ws.drop_all()
        wait_until(lambda: rig.ws.connections == 0, message="every socket gone")
        rig.book.cancel(resting)  # by hand on the venue's website: no socket hears of it
        rig.ws.refuse(False)
        rig.wait_mode("stream")
        # stream -> REST -> stream: the gap was read before the streams counted as up
        wait_until(lambda: feed.switches >= 3 and feed.mode == "stream", message="gap read")
        assert watch.checks == 0  # its clock stood still: it has not looked since
        assert cid not in rig.cids_delivered(BTC)  # neither the stream nor the gap fill told

        clock.t += 1.0  # one fast interval: far inside the slow pace's 60 s
        rig.wait_delivered(cid, timeout=10)
        assert Counter(rig.cids_delivered(BTC))[cid] == 1
    finally:
        if watch is not None:
            watch.stop()
        rig.stop()
