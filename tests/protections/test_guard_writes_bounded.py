"""The guard's writes on the run loop wait for a stalling database a short, named bound, not the
writer's 60 s: a person's pause, unpause, protection reset and kill-switch reset, and the state
a pass saves. Found by review: each waited the writer's 60 s submit timeout, holding the run
loop (status dump, heartbeat, protections pass) still that long per click while the database
stalled; only the kill switch's own record had a bound. A write not stored in time is said in
the control's result and stored at a later pass (the pause is in force meanwhile), or the reset
is refused in one line: nothing asked is dropped.

Real SQLite; the database stalls because its real writer thread is held inside one unit of
work until the test lets it go (a disk that does not answer)."""

from __future__ import annotations

import threading
from decimal import Decimal as D
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from loguru import logger

from protections.guard import AccountGuard, build_checks
from storage.repository import Repository
from tests.protections.ledger_rig import BASE, BTC, T0, Ledger, protections
from tests.supervision.kill_switch_victim import supervisor
from tests.support.waiting import wait_until

DAILY = protections(daily_loss_limit_usdt=D(10))
DEADLINE_S = 30.0
"""Far above the 0.3 s bound given to the guard, far below the writer's 60 s."""


class HeldWriter:
    """The repository's one writer thread, held inside a unit until `release`."""

    def __init__(self, repo: Repository) -> None:
        self._repo = repo
        self._go, entered = threading.Event(), threading.Event()

        def hold() -> None:
            entered.set()
            self._go.wait(120)

        self._thread = threading.Thread(target=repo.writer.submit, args=(hold,),
                                        kwargs={"timeout": None}, daemon=True)
        self._thread.start()
        wait_until(entered.is_set, timeout=10, message="the writer held")

    def release(self) -> None:
        """Let it go, and wait until what queued behind it is committed (in order)."""
        self._go.set()
        self._thread.join(timeout=30)
        self._repo.writer.submit(lambda: None, timeout=30)


def answered(call: Any) -> dict[str, Any]:
    """Run `call` as the run loop would and wait for its answer (or its one-line error)."""
    out: dict[str, Any] = {}

    def run() -> None:
        try:
            out["answer"] = call()
        except Exception as exc:  # noqa: BLE001 - the control applier makes it its one line
            out["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    wait_until(lambda: not thread.is_alive(), timeout=DEADLINE_S, message="the guard's answer")
    return out


def _guard(ledger: Ledger, now: float) -> AccountGuard:
    return AccountGuard(repo=ledger.repo, sup=SimpleNamespace(children={}, kill_switch=False),
                        checks=build_checks(DAILY, BASE), base=BASE, alert=lambda *a, **k: None,
                        logger=ledger.log, clock=lambda: now, store_s=0.3)


def test_a_pause_and_a_reset_while_the_database_stalls_answer_within_the_bound(tmp_path: Path):
    ledger = Ledger(tmp_path)
    ledger.closed("btc1", BTC, "signal", T0, pnl="-12", fee="0.05")
    guard = _guard(ledger, T0 + 10)
    guard.tick(T0 + 10)  # the daily loss limit trips
    held = HeldWriter(ledger.repo)
    try:
        reset = answered(lambda: guard.apply(
            "reset_protection", "*", {"name": "daily_loss_limit", "by": "op"}))
        assert "daily_loss_limit reset" in reset["answer"], reset
        assert "not stored yet" in reset["answer"], reset
        pause = answered(lambda: guard.apply("pause", "*", {"by": "dashboard"}))
        assert "entries paused" in pause["answer"], pause
        assert "not stored yet" in pause["answer"] and "0.3s" in pause["answer"], pause
        assert guard.refuse(BTC, T0 + 10) == "entries paused by dashboard"  # in force at once
        answered(lambda: guard.tick(T0 + 20))  # a pass while it stalls: bounded too
    finally:
        held.release()
    guard.store_s = 30.0  # the database answers again (a loaded machine's commit: any time)
    guard.tick(T0 + 30)  # both stored
    again = ledger.guard(DAILY, T0 + 40)  # a restart
    assert again.refuse(BTC, T0 + 40) == "entries paused by dashboard"
    again.apply("unpause", "*", {"by": "op"})
    assert ledger.guard(DAILY, T0 + 50).refuse(BTC, T0 + 50) is None  # the reset held too
    ledger.close()


def test_a_kill_switch_reset_while_the_database_stalls_is_refused_within_the_bound(
        tmp_path: Path):
    repo = Repository(tmp_path / "bot.sqlite", synchronous="normal")
    sup = supervisor(repo, kill_switch_store_s=0.3)
    try:
        guard = AccountGuard(repo=repo, sup=sup, checks=[], base=D(10000),
                             alert=sup.alerts.alert, logger=logger, store_s=0.3)
        assert guard.apply("kill_switch", "*", {"by": "dashboard"}) == "kill switch on"
        held = HeldWriter(repo)
        try:
            out = answered(lambda: guard.apply("kill_switch_reset", "*", {"by": "dashboard"}))
        finally:
            held.release()
        assert "reset it again" in str(out.get("error")), out
        assert sup.kill_switch  # still on: nothing was lifted
        guard.store_s = sup.kill_switch_store_s = 30.0  # the database answers again
        assert guard.apply("kill_switch_reset", "*", {"by": "dashboard"}) == "kill switch off"
    finally:
        sup.records.close(timeout_s=1)
        repo.close()
