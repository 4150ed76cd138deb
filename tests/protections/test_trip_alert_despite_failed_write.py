"""A protection that trips while the database refuses a write still alerts, once.

Found by review: the guard saved the tripped state and wrote the `ProtectionTripped` journal
row before it alerted. A commit that failed there (PostgreSQL gone for a moment, a full disk)
raised out of the tick before the alert; the trip was already in force in memory, so the next
tick saw nothing new and no person was ever told that entries had stopped.

Real SQLite under the guard built as protections.wiring builds it; the failing write is one
refused commit of a repository wrapper handed to the guard's constructor."""

from __future__ import annotations

import json
import sqlite3
from decimal import Decimal as D
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from protections.guard import STATE_KEY, AccountGuard, build_checks
from storage import queries
from tests.protections.ledger_rig import BASE, BTC, T0, Ledger, protections

DAILY = protections(daily_loss_limit_usdt=D(10))


class RefusingOnce:
    """The real repository, except that the named write raises the next time it is called."""

    def __init__(self, repo: Any, method: str) -> None:
        self._repo, self._method, self.refused = repo, method, 0

    def __getattr__(self, name: str) -> Any:
        real = getattr(self._repo, name)
        if name != self._method or self.refused:
            return real

        def refuse(*args: Any, **kwargs: Any) -> Any:
            self.refused += 1
            raise sqlite3.OperationalError("disk I/O error")

        return refuse


def _guard(ledger: Ledger, repo: Any, alerts: list[tuple]) -> AccountGuard:
    return AccountGuard(repo=repo, sup=SimpleNamespace(children={}, kill_switch=False),
                        checks=build_checks(DAILY, BASE), base=BASE,
                        alert=lambda *a, **k: alerts.append((a, k)), logger=ledger.log,
                        clock=lambda: T0 + 10)


@pytest.mark.parametrize("method", ["record", "set_meta"])
def test_a_trip_is_alerted_once_though_a_write_fails(tmp_path: Path, method: str):
    ledger = Ledger(tmp_path)
    repo = RefusingOnce(ledger.repo, method)
    alerts: list[tuple] = []
    guard = _guard(ledger, repo, alerts)
    ledger.closed("btc1", BTC, "signal", T0, pnl="-12", fee="0.05")
    try:
        guard.tick(T0 + 10)
    except sqlite3.OperationalError:
        pass  # how the run loop met it before the fix (one error line there)
    assert repo.refused == 1
    assert [a[0][1] for a in alerts] == ["protection"], alerts
    assert "daily loss limit" in alerts[0][0][2]
    assert guard.refuse(BTC, T0 + 10) is not None

    guard.tick(T0 + 20)  # the next pass: the database answers again
    assert len(alerts) == 1  # not a second time
    saved = json.loads(ledger.repo.get_meta(STATE_KEY) or "{}")
    assert saved["checks"]["daily_loss_limit"]["tripped_since"] == T0 + 10, saved
    if method == "record":
        assert any("journal row was not written" in e for e in ledger.log.errors), \
            ledger.log.errors
    else:
        assert len(ledger.repo.read(queries.events, None, "ProtectionTripped")) == 1
    ledger.close()
