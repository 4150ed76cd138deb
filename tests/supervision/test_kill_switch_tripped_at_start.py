"""A bot that starts with more escalated symbols in the kill switch's window than its bound
starts with the kill switch on, even when the switch itself was never stored.

Found by review: the escalation and the kill switch it trips are two records written one after
the other; a process killed between them (kill -9, power loss) restarted with the window's
escalations counted but the switch off, and every other symbol traded again until one more
symbol escalated. Real supervisor and SQLite."""

from __future__ import annotations

from pathlib import Path

from loguru import logger

from storage.repository import Repository
from supervision.alerts import Alerts
from supervision.restart_policy import RestartPolicy
from supervision.supervisor import Supervisor

SYMBOLS = ["BTC/USDT:USDT", "ETH/USDT:USDT", "SOL/USDT:USDT", "XRP/USDT:USDT"]


def _supervisor(repo: Repository) -> Supervisor:
    return Supervisor(
        symbols=SYMBOLS, start_actor=lambda s: None, repo=repo,  # type: ignore[arg-type,return-value]
        policy=RestartPolicy(max_restarts=3, period_s=60, backoff_initial_s=0.01,
                             backoff_max_s=0.1, stable_after_s=30),
        alerts=Alerts(logger=logger), logger=logger, heartbeat_interval_s=0.05,
        heartbeat_timeout_s=5, mailbox_max=1000, reconcile_interval_s=3600,
        kill_switch_escalations=2, kill_switch_window_s=600)


def test_escalations_past_the_bound_trip_the_switch_at_start(tmp_path: Path) -> None:
    repo = Repository(tmp_path / "bot.sqlite", synchronous="normal")
    try:
        for symbol in SYMBOLS[:3]:  # the third trips it (bound 2); killed before its "1"
            repo.add_escalation(symbol, "restarted 4 times in 60s", 3, "ActorBug")
        sup = _supervisor(repo)
        try:
            assert sup.kill_switch and sup.entries_blocked()
            assert "3 symbols escalated" in (sup.kill_switch_why or {}).get("reason", "")
            assert sup.records.wait_stored("*kill switch*", timeout_s=10)
            assert repo.get_meta("kill_switch") == "1"
        finally:
            sup.records.close()
    finally:
        repo.close()


def test_escalations_within_the_bound_leave_it_off(tmp_path: Path) -> None:
    repo = Repository(tmp_path / "bot.sqlite", synchronous="normal")
    try:
        for symbol in SYMBOLS[:2]:
            repo.add_escalation(symbol, "restarted 4 times in 60s", 3, "ActorBug")
        sup = _supervisor(repo)
        try:
            assert not sup.kill_switch
        finally:
            sup.records.close()
    finally:
        repo.close()
