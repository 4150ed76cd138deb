"""An escalation whose emergency close could not even start (its thread refused: the process out
of threads) still alerts and counts toward the kill switch (found by review): the error left
`_on_escalation` before its record and alert, so the escalated symbol was quarantined with no
alert, no entry under `escalations` and no count toward the kill switch. Real supervisor, real
SQLite; the failing close is injected through the constructor."""

from __future__ import annotations

from loguru import logger

from storage.repository import Repository
from supervision.alerts import Alerts
from supervision.restart_policy import RestartPolicy
from supervision.supervisor import Supervisor
from tests.support.waiting import wait_until
from trading.commands import Escalate

BTC = "BTC/USDT:USDT"


def test_an_emergency_close_that_cannot_start_still_alerts_and_counts(tmp_path):
    repo = Repository(tmp_path / "bot.sqlite")
    lines: list[str] = []
    sink = logger.add(lambda m: lines.append(m.record["message"]), level="ERROR")

    def close(symbol, reason, done):
        raise RuntimeError("can't start new thread")

    alerts = Alerts(logger=logger)
    sup = Supervisor(
        symbols=[], start_actor=lambda s: None, repo=repo,  # type: ignore[arg-type,return-value]
        policy=RestartPolicy(max_restarts=3, period_s=60, backoff_initial_s=0.01,
                             backoff_max_s=0.1, stable_after_s=30),
        alerts=alerts, logger=logger, heartbeat_interval_s=0.05,
        heartbeat_timeout_s=1.0, mailbox_max=1000, reconcile_interval_s=3600,
        kill_switch_escalations=0, kill_switch_window_s=600, emergency_close=close)
    sup.start()
    try:
        sup.escalated(BTC, Escalate(reason="close failed 3 times", attempts=3, last_error="x"))
        wait_until(lambda: sup.kill_switch or any("supervisor error" in s for s in lines),
                   timeout=30, message="the escalation handled")
        assert [e["symbol"] for e in sup.escalations] == [BTC]
        assert [a["kind"] for a in alerts.sent if a["symbol"] == BTC] == ["escalation"]
        assert sup.kill_switch
        [said] = [s for s in lines if "emergency close" in s and "not started" in s]
        assert "can't start new thread" in said and "Traceback" not in said
    finally:
        sup.stop()
        logger.remove(sink)
        repo.close()
