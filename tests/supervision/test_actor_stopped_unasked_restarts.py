"""An actor stopped without the supervisor asking is restarted, not left for dead.

Found by review: pykka answers a BaseException in a handler (a SystemExit out of a library, a
stray KeyboardInterrupt) by stopping that actor and then every actor of the process
(`ActorRegistry.stop_all`). Their `stopped` reports were ignored: every symbol's actor was dead
while the supervisor still showed it `running`, beat it into an ActorDeadError it swallowed,
and never restarted it; nothing traded, trailed or closed, and no alert was raised. Now a
`stopped` report of the current incarnation of a running actor that nobody asked to stop is a
failure: restarted from storage with the backoff (and escalating past the restart intensity).
A symbol's own actor now keeps such an exception to itself (actors/symbol_actor.py
`contained`, tests/supervision/test_base_exception_stays_in_its_actor.py); here it comes from
another actor of the process. Real supervisor, real pykka actors, SQLite and the paper
exchange."""

from __future__ import annotations

import pykka

from tests.support.harness import Harness
from tests.support.waiting import wait_until

BTC, ETH = "BTC/USDT:USDT", "ETH/USDT:USDT"


class ExitsOnMessage(pykka.ThreadingActor):
    """Another actor of the process, whose handler raises a SystemExit out of a library."""

    use_daemon_thread = True

    def on_receive(self, message):  # noqa: ANN001, ANN201
        raise SystemExit("a library called sys.exit")


def test_actors_stopped_by_another_actors_base_exception_are_restarted(tmp_path):
    h = Harness(tmp_path, [BTC, ETH])
    h.start()
    try:
        first = {s: h.child(s).ref for s in (BTC, ETH)}
        ExitsOnMessage.start().tell("go")
        for symbol in (BTC, ETH):
            wait_until(lambda s=symbol: h.child(s).restarts == 1
                       and h.child(s).state.value == "running"
                       and h.child(s).ref is not first[s]
                       and h.child(s).ref.is_alive(), message=f"{symbol} restarted")
            assert h.child(symbol).last_failure["where"] == "stopped"
        h.idle(ETH)  # the new actor answers
    finally:
        h.stop()
