"""A strategy bug meets every symbol within seconds: one strategy_failed alert per symbol queued
hundreds of alerts in the class escalations go through (found by review). The first is alerted
at once, the symbols after it within the window in one held alert after it
(supervision/strategy_alerts.py). Driven with a manual clock; the real Alerts collects them."""

from __future__ import annotations

from loguru import logger

from supervision.alerts import Alerts
from supervision.strategy_alerts import NAMED, WINDOW_S, StrategyAlerts


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_one_alert_then_the_rest_of_the_window_together() -> None:
    alerts, clock = Alerts(logger=logger), Clock()
    batch = StrategyAlerts(alerts, clock=clock)
    symbols = [f"S{i:03d}/USDT:USDT" for i in range(30)]
    for s in symbols:
        batch.failed(s, f"strategy x failed on {s}")
        clock.now += 1
    batch.tick()  # still inside the window: nothing more
    assert [(a["symbol"], a["kind"]) for a in alerts.sent] == [(symbols[0], "strategy_failed")]
    clock.now = 100.0 + WINDOW_S
    batch.tick()
    assert len(alerts.sent) == 2
    held = alerts.sent[1]
    assert held["symbol"] is None and held["kind"] == "strategy_failed"
    assert f"on {len(symbols) - 1} more symbol(s)" in held["message"]
    assert symbols[1] in held["message"] and f"and {len(symbols) - 1 - NAMED} more" in held["message"]
    batch.tick()
    assert len(alerts.sent) == 2  # nothing held any more
    clock.now += 1
    batch.failed(symbols[1], "soon after")  # the held alert opened a window: held
    assert len(alerts.sent) == 2
    clock.now += WINDOW_S
    batch.failed(symbols[0], "again")  # a new window: at once
    assert len(alerts.sent) == 3 and alerts.sent[2]["message"] == "again"
