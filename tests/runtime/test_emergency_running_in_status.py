"""The status dump says an owed emergency close is running while its thread is at work on the
exchange (`emergency_closes_owed[].running`, and the table's "running"): found by the shutdown
mutation audit, `"running": False` in runtime/emergency_status.py passed every test, and the
table then told a person "not running now: the next start runs it" about a close in flight.
Real AccountRuntime, paper exchange, SQLite, actors and closer thread; the venue's position read
hangs on the close's thread only (tests/runtime/test_stop_all_reports.py
a_close_stuck_on_the_venue)."""

from __future__ import annotations

import time
from pathlib import Path

from supervision.status_view import _owed
from tests.runtime.test_stop_all_reports import BTC, a_close_stuck_on_the_venue


def test_an_owed_close_in_flight_is_shown_running(tmp_path: Path) -> None:
    with a_close_stuck_on_the_venue(tmp_path, owed=True, stop=True) as runtime:
        [entry] = runtime.status({"pid": 1, "running": True}, time.time())[
            "emergency_closes_owed"]
        assert entry["symbol"] == BTC and entry["running"] is True, entry
        assert "running" in _owed(entry).plain and "not running" not in _owed(entry).plain
