"""The heartbeat still reaches every actor when choosing the periodic reconciliations raises
(the streams' state it asks, one symbol's published state it reads).

Found by review: the choice ran inside the beat of part 0 before its actors were told; one that
raised went to the supervisor's catch-all every interval, and part 0's actors (all of them with
one symbol, every 20th otherwise) got no Timer (no trailing-stop move, no price slot taken) and
no Ping (a hung one was never found) for as long as it raised. Now it is one ERROR line and the
beat goes on. Real supervisor thread and pykka actors; the streams' state is set the way the
account wires it (runtime/account.py)."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pykka
from loguru import logger

from actors.messages import Ping, Timer
from storage.repository import Repository
from supervision.alerts import Alerts
from supervision.restart_policy import RestartPolicy
from supervision.supervisor import Supervisor

BTC = "BTC/USDT:USDT"


class Beaten(pykka.ThreadingActor):
    def __init__(self, started: Any, raised: threading.Event, timers: threading.Semaphore,
                 ) -> None:
        super().__init__()
        self._started, self._raised, self._timers = started, raised, timers

    def on_start(self) -> None:
        self._started()

    def on_receive(self, message: Any) -> Any:
        if isinstance(message, Timer) and self._raised.is_set():
            self._timers.release()  # a Timer handled once the choice has raised
        return None if not isinstance(message, Ping) else "pong"


def test_a_failing_reconcile_choice_does_not_stop_the_beats(tmp_path: Path) -> None:
    repo = Repository(tmp_path / "bot.sqlite", synchronous="normal")
    raised = threading.Event()
    timers = threading.Semaphore(0)
    box: dict[str, Supervisor] = {}

    def start(symbol: str) -> pykka.ActorRef:
        return Beaten.start(lambda: box["sup"].report(symbol, 1, "started", None), raised,
                            timers)

    sup = Supervisor(
        symbols=[BTC], start_actor=start, repo=repo,
        policy=RestartPolicy(max_restarts=3, period_s=60, backoff_initial_s=0.01,
                             backoff_max_s=0.1, stable_after_s=30),
        alerts=Alerts(logger=logger), logger=logger, heartbeat_interval_s=0.02,
        heartbeat_timeout_s=5, mailbox_max=1000, reconcile_interval_s=0.01,
        kill_switch_escalations=100, kill_switch_window_s=600)
    box["sup"] = sup

    def streams_ok() -> bool:
        raised.set()
        raise AttributeError("'NoneType' object has no attribute 'connected'")

    sup.schedule.streams_ok = streams_ok
    sup.start()
    try:
        for n in range(3):  # one could have been told before the first raise
            assert timers.acquire(timeout=10), f"only {n} Timers reached the actor"
    finally:
        sup.stop()
        pykka.ActorRegistry.stop_all()
        repo.close()
