"""The dashboard's `bot.heartbeat_stale` (the page's BOT NOT UPDATING ITS STATUS, the metrics'
`bot_account_current`) for a heartbeat ahead of the dashboard host's clock. Found by review:
the age was max(now - heartbeat, 0), so a heartbeat an hour ahead (the clock set back after
the bot wrote it, then its loop stopped writing) read as fresh for that hour. Real status file
and DashboardSource; the clock is given."""

from __future__ import annotations

from pathlib import Path

from dashboard.source import DashboardSource
from supervision.status import write_status

NOW = 1_800_000_000.0


def source_with_beat(tmp_path: Path, beat: float) -> dict:
    write_status(tmp_path, {"bot": {"pid": 1, "running": True, "heartbeat_at": beat},
                            "actors": [], "escalations": [], "kill_switch": False})
    source = DashboardSource(data_dir=tmp_path, accounts=[], running=lambda: True,
                             clock=lambda: NOW)
    status, problem = source.read()
    assert problem is None and status is not None
    return status["bot"]


def test_a_heartbeat_an_hour_ahead_is_stale_and_its_age_says_ahead(tmp_path: Path) -> None:
    bot = source_with_beat(tmp_path, NOW + 3600)
    assert (bot["heartbeat_stale"], bot["heartbeat_age_s"]) == (True, -3600.0)


def test_a_heartbeat_a_moment_ahead_is_fresh(tmp_path: Path) -> None:
    bot = source_with_beat(tmp_path, NOW + 1)
    assert (bot["heartbeat_stale"], bot["heartbeat_age_s"]) == (False, 0.0)
