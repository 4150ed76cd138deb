"""The kill switch's count read back at start survives hand-edited rows.

The supervisor reads the escalations since the window (or a person's last reset, meta
`kill_switch_reset`) when the account starts. A reset mark that is not a number stopped the
whole bot at start (ValueError, naming neither the row nor the table); an escalation whose
`created_at` is not a number was kept as it was, and every later escalation then failed in the
supervisor (TypeError) before it counted: the kill switch could never trip. Now each such row is
one ERROR line naming it, and left out. Real Repository on a SQLite file, real supervisor."""

from __future__ import annotations

import sqlite3
from typing import Any

import pytest
from loguru import logger

from storage.repository import Repository
from supervision.alerts import Alerts
from supervision.restart_policy import RestartPolicy
from supervision.supervisor import Supervisor
from tests.support.waiting import wait_until
from trading.commands import Escalate

BTC, ETH, SOL = "BTC/USDT:USDT", "ETH/USDT:USDT", "SOL/USDT:USDT"


@pytest.fixture
def lines():
    seen: list[str] = []
    sink = logger.add(lambda m: seen.append(m.record["message"]), level="ERROR")
    yield seen
    logger.remove(sink)


def supervisor(repo: Repository) -> Supervisor:
    return Supervisor(
        symbols=[], start_actor=lambda s: None, repo=repo,  # type: ignore[arg-type,return-value]
        policy=RestartPolicy(max_restarts=3, period_s=60, backoff_initial_s=0.01,
                             backoff_max_s=0.1, stable_after_s=30),
        alerts=Alerts(logger=logger), logger=logger, heartbeat_interval_s=0.05,
        heartbeat_timeout_s=1.0, mailbox_max=1000, reconcile_interval_s=3600,
        kill_switch_escalations=1, kill_switch_window_s=600)


def edit(path: Any, sql: str) -> None:
    con = sqlite3.connect(str(path))
    try:
        con.execute(sql)
        con.commit()
    finally:
        con.close()


def test_a_reset_mark_that_is_not_a_time_is_named_and_the_account_starts(tmp_path, lines):
    repo = Repository(tmp_path / "bot.sqlite")
    repo.set_meta("kill_switch_reset", "yesterday")
    try:
        sup = supervisor(repo)
        assert sup.escalations == []
        assert any("kill_switch_reset" in line and "'yesterday'" in line for line in lines)
    finally:
        repo.close()


def test_an_escalation_row_with_a_bad_time_is_named_and_the_kill_switch_still_trips(
        tmp_path, lines):
    repo = Repository(tmp_path / "bot.sqlite")
    repo.add_escalation(BTC, "restarted 3 times", 3, "bug")
    edit(tmp_path / "bot.sqlite", "UPDATE escalations SET created_at = 'noon'")
    sup = supervisor(repo)
    sup.start()
    try:
        assert any("escalations row" in line and BTC in line and "'noon'" in line
                   for line in lines)
        sup.escalated(ETH, Escalate(reason="close failed", attempts=5, last_error="x"))
        sup.escalated(SOL, Escalate(reason="close failed", attempts=5, last_error="x"))
        wait_until(lambda: sup.kill_switch or any("supervisor error" in s for s in lines),
                   message="the second escalation handled")
        assert sup.kill_switch
        assert not any("supervisor error" in line for line in lines)
    finally:
        sup.stop(timeout_s=5)
        repo.close()
