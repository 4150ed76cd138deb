"""A person's resume that reaches the supervisor once the bot is stopping starts no actor.

Found by review: the supervisor's thread handles the item its inbox read returned before it
looks at the stop flag, and the resume of a quarantined symbol started the symbol's actor
whatever the flag said (a restart and a reconcile-only run both check it: "nothing starts once
the bot stops"). A resume arriving while SIGTERM was being handled started an actor that
claimed a new incarnation, restored and reconciled against the exchange while the repository
was closing. Now it is refused with one line naming it (the symbol stays quarantined, as stored)
and its control row stays pending, applied at the next start (it was answered "resumed").

Real actors, supervisor, SQLite and paper exchange; BTC's restore fails (max_restarts 0: it
escalates at once), and the supervisor's thread waits in its inbox read (a long heartbeat
interval) when the bot starts stopping and the resume arrives."""

from __future__ import annotations

import dataclasses
from typing import Any

import pykka
import pytest
from loguru import logger

from runtime.controls import ControlApplier
from storage import control
from storage.models import ControlRow
from storage.repository import Repository
from supervision.child import ChildState
from supervision.restart_policy import RestartPolicy
from supervision.supervisor import Supervisor
from tests.support.harness import Harness
from tests.support.waiting import wait_until

BTC = "BTC/USDT:USDT"


class BrokenRestore(Repository):
    def load(self, symbol: str, *args: Any, **kwargs: Any) -> Any:
        if symbol == BTC:
            raise RuntimeError("a bug in BTC's restore")
        return super().load(symbol, *args, **kwargs)


@pytest.fixture(autouse=True)
def _stop_actors():
    yield
    pykka.ActorRegistry.stop_all(block=False)


def test_a_resume_once_the_bot_is_stopping_starts_no_actor(tmp_path):
    h = Harness(tmp_path, [BTC], repository=BrokenRestore)
    spawns: list[str] = []

    def start_actor(symbol: str) -> pykka.ActorRef:
        spawns.append(symbol)
        return h._start(symbol)

    sup = Supervisor(
        symbols=[BTC], start_actor=start_actor, repo=h.repo,
        policy=RestartPolicy(max_restarts=0, period_s=60, backoff_initial_s=0.5,
                             backoff_max_s=0.5, stable_after_s=30),
        alerts=h.alerts, logger=logger, heartbeat_interval_s=3600, heartbeat_timeout_s=7200,
        mailbox_max=100_000, reconcile_interval_s=3600, kill_switch_escalations=100,
        kill_switch_window_s=600, views=h.views, emergency_close=None)
    h.sup = sup
    h.deps = dataclasses.replace(h.deps, report=sup.report, on_escalate=sup.escalated,
                                 entries_blocked=sup.entries_blocked, fences=sup.fences,
                                 busy=sup.busy)
    lines: list[str] = []
    sink = logger.add(lambda m: lines.append(m.record["message"]), level="WARNING")
    child = sup.children[BTC]
    try:
        sup.start()
        wait_until(lambda: child.state is ChildState.QUARANTINED, message="BTC escalated")
        assert sup.records.wait_stored(BTC, timeout_s=10), "the quarantine is stored"
        assert spawns == [BTC]
        sup.stopping()  # SIGTERM: the bot stops (stop() follows)
        # a person's resume, read from its control row meanwhile by the run loop's last round
        cid = control.request(h.repo, "resume", BTC, by="alice")
        applier = ControlApplier(repo=h.repo, sup=sup, log=logger)
        applier.apply()
        wait_until(lambda: any("resume by alice" in line for line in lines) or len(spawns) > 1,
                   message="the resume handled")
        applier.apply()  # found by review: marked done "resumed" while nothing was lifted
        row = h.repo.read(lambda: ControlRow.get_by_id(cid))
        assert row.done_at is None, f"answered {row.result!r}: the next start must apply it"
        assert spawns == [BTC], "an actor was started while the bot was stopping"
        assert child.state is ChildState.QUARANTINED
        assert any("resume by alice not applied: the bot is stopping" in line
                   for line in lines), lines
    finally:
        h.stop()
        logger.remove(sink)
