"""A control the database stalls to record (its journal line, its done mark) answers within the
run loop's bound and is never applied a second time by a later round. Found by review: after
the guard applied a person's control, the applier waited the writer's 60 s for its journal
line and again for its done mark, holding the run loop still; and a row whose mark was not
stored stayed pending, so the next round applied it again: a protection reset lifted a trip
that a new loss had set meanwhile.

Real SQLite whose writer thread is held inside one unit (tests/protections/
test_guard_writes_bounded.py), the real guard and applier, the bot's journal function."""

from __future__ import annotations

from decimal import Decimal as D
from pathlib import Path
from types import SimpleNamespace

from protections.guard import AccountGuard, build_checks
from protections.wiring import journal_control
from runtime.controls import ControlApplier
from storage import control
from storage.models import ControlRow, EventRow
from tests.protections.ledger_rig import BASE, BTC, T0, Ledger, protections
from tests.protections.test_guard_writes_bounded import HeldWriter, answered

DAILY = protections(daily_loss_limit_usdt=D(10))


def test_a_reset_whose_record_stalls_is_answered_in_time_and_never_applied_twice(
        tmp_path: Path):
    ledger = Ledger(tmp_path)
    ledger.closed("btc1", BTC, "signal", T0, pnl="-12", fee="0.05")
    now = [T0 + 10]
    guard = AccountGuard(repo=ledger.repo, sup=SimpleNamespace(children={}, kill_switch=False),
                         checks=build_checks(DAILY, BASE), base=BASE,
                         alert=lambda *a, **k: None, logger=ledger.log,
                         clock=lambda: now[0], store_s=0.3)
    guard.tick()
    assert guard.refuse(BTC, now[0]) is not None  # the daily loss limit tripped
    cid = control.request(ledger.repo, "reset_protection", "*", name="daily_loss_limit",
                          by="dashboard")
    applier = ControlApplier(repo=ledger.repo, sup=guard.sup, log=ledger.log, guard=guard,
                             journal=journal_control, store_s=0.3)
    held = HeldWriter(ledger.repo)
    try:
        answered(applier.apply)  # within the deadline: not the writer's 60 s per write
        assert guard.refuse(BTC, now[0]) is None  # the reset is in force
        ledger.closed("btc2", BTC, "signal", T0 + 20, pnl="-15")  # a new loss meanwhile
        now[0] = T0 + 30
        answered(guard.tick)  # trips again (its save waits for the database)
        assert guard.refuse(BTC, now[0]) is not None
        answered(applier.apply)  # the next round, the row not marked done yet
        assert guard.refuse(BTC, now[0]) is not None, "the reset was applied a second time"
    finally:
        held.release()
    applier.store_s = 30.0  # the database answers again (a loaded machine's commit: any time)
    answered(applier.apply)  # the row is marked, once
    rows = ledger.repo.read(lambda: [(r.id, r.result) for r in ControlRow.select()])
    assert rows == [(cid, "daily_loss_limit reset (not stored yet: TimeoutError: database "
                          "commit did not finish in time (within 0.3s); a restart before it "
                          "is would forget it)")], rows
    lines = ledger.repo.read(lambda: EventRow.select().where(
        EventRow.type == "ControlApplied").count())
    assert lines == 1, lines
    assert guard.refuse(BTC, now[0]) is not None
    ledger.close()
