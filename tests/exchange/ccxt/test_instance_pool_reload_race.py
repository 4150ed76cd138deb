"""A thread's first instance and a markets reload at the same moment (exchange/ccxt/instances.py).

`InstancePool.get()` took the markets' template under its lock, registered the new instance,
and handed it the markets after the lock: a reload in between (`set_markets`: a new template,
handed to every registered instance) reached the new instance first, and then the thread gave
it the template it had taken before: that thread's instance kept the markets of before the
reload (precision, limits, listings) until the next reload, while every other thread had the
new ones. Real ccxt classes against the emulators; the thread's hand-over is held (the factory's
class) until the reload has ended, the interleaving the race needs."""

from __future__ import annotations

import threading
from typing import Any

import ccxt
import pytest

from tests.exchange.ccxt.ccxt_fixtures import make_gateway, start_emulator
from tests.exchange.ccxt.emu_server import point_at

ACTOR = "actor-first-call"


def held_factory(exchange_id: str, base_url: str, entered: threading.Event,
                 go: threading.Event) -> Any:
    """The real ccxt class; the ACTOR thread's first hand-over of the markets waits for `go`."""
    base = getattr(ccxt, exchange_id)

    class Held(base):  # type: ignore[misc, valid-type]
        def set_markets_from_exchange(self, source: Any) -> Any:
            if threading.current_thread().name == ACTOR and not entered.is_set():
                entered.set()
                assert go.wait(30), "the test never let the hand-over go on"
            return super().set_markets_from_exchange(source)

    def build() -> ccxt.Exchange:
        ex = Held({"timeout": 2000})
        point_at(ex, base_url)
        return ex

    return build


@pytest.mark.parametrize("exchange_id", ["bybit", "binanceusdm"])
def test_a_reload_during_a_threads_first_call_reaches_its_instance(exchange_id, tmp_path):
    emu = start_emulator(exchange_id)
    entered, go = threading.Event(), threading.Event()
    gw = make_gateway(exchange_id, emu, tmp_path,
                      factory=held_factory(exchange_id, emu.base_url, entered, go))
    mine: list[ccxt.Exchange] = []
    actor = threading.Thread(target=lambda: mine.append(gw.exchange_for_current_thread()),
                             name=ACTOR)
    try:
        gw.load_markets()
        actor.start()
        assert entered.wait(30), "the actor's first call never reached the markets"
        gw.load_markets(reload=True)  # meanwhile: a new template for every instance
        go.set()
        actor.join(30)
        assert not actor.is_alive() and len(mine) == 1
        current = gw.exchange_for_current_thread().markets
        assert mine[0].markets is current, "the thread's instance kept the markets of before"
    finally:
        go.set()
        actor.join(30)
        gw.close()
        emu.stop()
