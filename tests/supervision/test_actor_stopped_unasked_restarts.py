"""An actor stopped without the supervisor asking is restarted, not left for dead.

Found by review: pykka answers a BaseException in a handler (a SystemExit out of a library, a
stray KeyboardInterrupt) by stopping that actor and then every actor of the process
(`ActorRegistry.stop_all`). Their `stopped` reports were ignored: every symbol's actor was dead
while the supervisor still showed it `running`, beat it into an ActorDeadError it swallowed,
and never restarted it; nothing traded, trailed or closed, and no alert was raised. Now a
`stopped` report of the current incarnation of a running actor that nobody asked to stop is a
failure: restarted from storage with the backoff (and escalating past the restart intensity).
Real supervisor, real pykka actors, SQLite and the paper exchange."""

from __future__ import annotations

from tests.support.harness import Harness, NoSignals
from tests.support.waiting import wait_until

BTC, ETH = "BTC/USDT:USDT", "ETH/USDT:USDT"


class ExitWhenArmed:
    name = "exit-when-armed"

    def __init__(self, armed: list[bool]) -> None:
        self.armed = armed

    def on_price(self, price, volume, now, position):  # noqa: ANN001
        if self.armed[0]:
            self.armed[0] = False
            raise SystemExit("a library called sys.exit")
        return None


def test_actors_stopped_by_another_actors_base_exception_are_restarted(tmp_path):
    armed = [False]
    h = Harness(tmp_path, [BTC, ETH],
                strategy_for=lambda s: ExitWhenArmed(armed) if s == BTC else NoSignals())
    h.start()
    try:
        first = {s: h.child(s).ref for s in (BTC, ETH)}
        armed[0] = True
        h.poll()
        for symbol in (BTC, ETH):
            wait_until(lambda s=symbol: h.child(s).restarts == 1
                       and h.child(s).state.value == "running"
                       and h.child(s).ref is not first[s]
                       and h.child(s).ref.is_alive(), message=f"{symbol} restarted")
            assert h.child(symbol).last_failure["where"] == "stopped"
        h.idle(ETH)  # the new actor answers
    finally:
        h.stop()
