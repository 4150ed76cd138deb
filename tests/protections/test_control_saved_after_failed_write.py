"""A person's pause, unpause or protection reset that the database refused to store at once is
stored at the next pass, so a restart keeps it.

Found by review: the guard applied the control in memory (entries paused, or a trip lifted) and
then wrote it; a write that failed (PostgreSQL gone for a moment, a full disk) raised out of
`apply`, nothing wrote it again, and the next tick saw no change to save. The dashboard showed
"entries paused" until a restart, which then started trading again (or brought a reset trip
back). Now the write is tried again at every pass until it is stored, and the control's
result says it is not stored yet.

Real SQLite under the guard built as protections.wiring builds it; the failing write is one
refused `set_meta` of a repository wrapper handed to the guard's constructor."""

from __future__ import annotations

from decimal import Decimal as D
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from protections.guard import AccountGuard, build_checks
from tests.protections.ledger_rig import BASE, BTC, T0, Ledger, protections
from tests.protections.test_trip_alert_despite_failed_write import RefusingOnce

DAILY = protections(daily_loss_limit_usdt=D(10))


def _guard(ledger: Ledger, repo: Any) -> AccountGuard:
    return AccountGuard(repo=repo, sup=SimpleNamespace(children={}, kill_switch=False),
                        checks=build_checks(DAILY, BASE), base=BASE,
                        alert=lambda *a, **k: None, logger=ledger.log, clock=lambda: T0 + 10)


def test_a_pause_whose_write_failed_is_stored_at_the_next_pass(tmp_path: Path):
    ledger = Ledger(tmp_path)
    repo = RefusingOnce(ledger.repo, "set_meta")
    guard = _guard(ledger, repo)
    result = guard.apply("pause", "*", {"by": "dashboard login from 127.0.0.1"})
    assert repo.refused == 1
    assert "entries paused" in result and "not stored yet" in result, result
    assert guard.refuse(BTC, T0 + 10) is not None  # in force at once
    guard.tick(T0 + 20)  # the database answers again

    again = ledger.guard(DAILY, T0 + 30)  # a restart
    assert again.refuse(BTC, T0 + 30) == "entries paused by dashboard login from 127.0.0.1"
    again.apply("unpause", "*", {"by": "operator"})
    assert ledger.guard(DAILY, T0 + 40).refuse(BTC, T0 + 40) is None
    ledger.close()


def test_an_unpause_whose_write_failed_is_stored_at_the_next_pass(tmp_path: Path):
    ledger = Ledger(tmp_path)
    ledger.guard(DAILY, T0).apply("pause", "*", {"by": "operator"})
    repo = RefusingOnce(ledger.repo, "set_meta")
    guard = _guard(ledger, repo)
    assert "not stored yet" in guard.apply("unpause", "*", {"by": "operator"})
    guard.tick(T0 + 20)
    assert ledger.guard(DAILY, T0 + 30).refuse(BTC, T0 + 30) is None
    ledger.close()


def test_a_reset_whose_write_failed_is_stored_at_the_next_pass(tmp_path: Path):
    ledger = Ledger(tmp_path)
    ledger.closed("btc1", BTC, "signal", T0, pnl="-12", fee="0.05")
    tripped = _guard(ledger, ledger.repo)
    tripped.tick(T0 + 10)
    assert tripped.refuse(BTC, T0 + 10) is not None

    repo = RefusingOnce(ledger.repo, "set_meta")
    guard = _guard(ledger, repo)  # a restart: still tripped
    guard.tick(T0 + 10)
    result = guard.apply("reset_protection", "*", {"name": "daily_loss_limit", "by": "op"})
    assert repo.refused == 1
    assert "daily_loss_limit reset" in result and "not stored yet" in result, result
    assert guard.refuse(BTC, T0 + 10) is None
    guard.tick(T0 + 20)  # the database answers again

    assert ledger.guard(DAILY, T0 + 30).refuse(BTC, T0 + 30) is None  # after a restart too
    ledger.close()
