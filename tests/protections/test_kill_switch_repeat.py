"""The kill switch asked for while it is already on (a second click, a second API call) changes
nothing and raises no second alert (found by review: three POSTs gave three `ALERT kill_switch`
lines and three Telegram messages). Once reset, tripping it again alerts again. The account's
guard as the bot wires it, real supervisor and actors, real SQLite."""

from __future__ import annotations

from types import SimpleNamespace

from loguru import logger

from supervision.alerts import Alerts
from tests.protections.streak_rig import StreakRig


def _no_protections():
    return SimpleNamespace(daily_loss_limit_usdt=None, daily_loss_limit_pct=None,
                           max_drawdown_usdt=None, max_drawdown_pct=None, stoploss_guard_count=0,
                           stoploss_guard_window_s=3600.0, stoploss_guard_pause_s=3600.0)


def _kill_alerts(alerts: Alerts) -> int:
    return sum(1 for a in alerts.sent if a["kind"] == "kill_switch")


def test_kill_switch_on_twice_alerts_once(tmp_path):
    alerts = Alerts(logger=logger)
    rig = StreakRig(tmp_path, _no_protections(), alerts=alerts).start()
    try:
        assert rig.guard.apply("kill_switch", "*", {"by": "dashboard"}) == "kill switch on"
        assert rig.guard.apply("kill_switch", "*", {"by": "dashboard"}) == \
            "kill switch already on"
        assert rig.sup.kill_switch and _kill_alerts(alerts) == 1
        assert rig.guard.apply("kill_switch_reset", "*", {"by": "dashboard"}) == \
            "kill switch off"
        assert rig.guard.apply("kill_switch", "*", {"by": "api"}) == "kill switch on"
        assert rig.sup.kill_switch and _kill_alerts(alerts) == 2
    finally:
        rig.stop()
