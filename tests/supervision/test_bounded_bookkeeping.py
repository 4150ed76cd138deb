"""Bookkeeping lists that grew without limit over a long run (found by review): every alert's
payload in ``Alerts.sent`` and every restart's duration in ``Child.restart_durations``. A bot
running for months keeps only the latest ones."""

from __future__ import annotations

from typing import Any

from supervision.alerts import SENT_KEPT, Alerts
from supervision.child import RESTART_DURATIONS_KEPT, Child


class QuietLog:
    """A logger that keeps nothing (the lines are not what this test is about)."""

    def bind(self, **_: Any) -> QuietLog:
        return self

    def error(self, *_: Any) -> None:
        pass


def test_alerts_keep_only_the_latest():
    alerts = Alerts(logger=QuietLog())
    for n in range(SENT_KEPT + 50):
        alerts.alert("BTC/USDT:USDT", "crash_loop", f"loop {n}")
    assert len(alerts.sent) == SENT_KEPT
    assert alerts.sent[-1]["message"] == f"loop {SENT_KEPT + 49}"
    assert alerts.sent[0]["message"] == "loop 50"


def test_a_childs_restart_durations_keep_only_the_latest():
    child = Child("BTC/USDT:USDT")
    for n in range(RESTART_DURATIONS_KEPT + 50):
        child.restart_durations.append(float(n))
    assert len(child.restart_durations) == RESTART_DURATIONS_KEPT
    assert child.restart_durations[-1] == RESTART_DURATIONS_KEPT + 49
