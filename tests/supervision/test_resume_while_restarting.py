"""A person's resume told while the symbol's actor is restarting (its restore still running)
reaches the incarnation that starts, even when that start fails.

Found by review: the supervisor told the resume straight to the starting actor's mailbox.
pykka drops the mailbox of an actor whose start fails, so the Resume went with it; the next
incarnation restored the quarantine from storage and stayed quarantined, while `bot.py
resume` had answered "resumed" (the sibling of the resume lost while backing off). Now a resume
for a child that is starting is kept and told once a start is reported. Real supervisor,
pykka actors, SQLite and the paper exchange; the held, failing restore comes from a repository
given to the harness's constructor."""

from __future__ import annotations

import threading
from typing import Any

import pykka
import pytest

from storage.repository import Repository
from supervision.restart_policy import RestartPolicy
from tests.support.harness import Harness
from tests.support.waiting import wait_until

BTC = "BTC/USDT:USDT"


class HeldLoad(Repository):
    """The next `load` of BTC waits for `release`, then fails once (a database hiccup)."""

    hold = {"armed": False}
    entered = threading.Event()
    release = threading.Event()

    def load(self, symbol: str, *args: Any, **kwargs: Any) -> Any:
        if symbol == BTC and self.hold["armed"]:
            self.hold["armed"] = False
            self.entered.set()
            self.release.wait(timeout=30)
            raise OSError("disk I/O error (injected)")
        return super().load(symbol, *args, **kwargs)


@pytest.fixture(autouse=True)
def _stop_actors():
    yield
    HeldLoad.release.set()
    pykka.ActorRegistry.stop_all()


def test_a_resume_while_restarting_survives_a_failed_start(tmp_path):
    policy = RestartPolicy(max_restarts=5, period_s=60, backoff_initial_s=0.05,
                           backoff_max_s=0.05, stable_after_s=30)
    h = Harness(tmp_path, [BTC], policy=policy, repository=HeldLoad)
    h.repo.quarantine(BTC, "close failed 5 times", correlation_id="esc-1")
    h.start()
    try:
        wait_until(lambda: h.view(BTC) is not None and h.view(BTC).quarantined,
                   message="restored quarantined")
        child = h.child(BTC)
        HeldLoad.hold["armed"] = True
        child.ref.stop()  # the actor ends without the supervisor asking: a failure
        assert HeldLoad.entered.wait(timeout=10), "the restart's restore never began"
        assert child.state.value == "restarting"
        h.sup.resume(BTC, by="tester")
        wait_until(lambda: HeldLoad.release.is_set() or h.sup._inbox.empty(),
                   message="the resume handled")
        HeldLoad.release.set()  # the held start fails now
        wait_until(lambda: child.restarts == 2 and child.state.value == "running",
                   message="restarted again after the failed start")
        wait_until(lambda: not h.view(BTC).quarantined, message="the quarantine lifted")
    finally:
        h.stop()
