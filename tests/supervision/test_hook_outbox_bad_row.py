"""One row of the alert hooks' outbox that cannot be read must not keep the others from the
hooks.

Found by review: the alerts a killed run left were read in one go, so one row whose payload
is not UTF-8 (a damaged page of alert_hooks.db) failed the whole read: the kill switch and
the escalation kept beside it never reached the alert command, at this start or any later
one. A row whose JSON was broken was already dropped alone; now a row that cannot be decoded
at all is too, one ERROR line naming it and the file, and every other row is delivered,
oldest first.

Real parts: SQLite outbox (the bad row written by a second connection, as damage would),
Alerts with a real `alert_command` subprocess recording what it gets on stdin."""

from __future__ import annotations

import json
import sqlite3

from loguru import logger

from supervision.alerts import Alerts
from supervision.hook_outbox import FILE_NAME, HookOutbox
from tests.support.waiting import wait_until


def _received(path) -> list[dict]:  # noqa: ANN001
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_one_undecodable_row_is_dropped_and_the_others_are_delivered(tmp_path, lines):
    path = tmp_path / FILE_NAME
    earlier = HookOutbox(path, "main", logger)  # what the killed run had kept
    earlier.add({"symbol": None, "kind": "kill_switch", "message": "tripped"})
    damage = sqlite3.connect(path)
    damage.execute("INSERT INTO hooks (owner, payload, queued_at) "
                   "VALUES ('main', CAST(X'FF7B7D' AS TEXT), 1.0)")
    damage.commit()
    damage.close()
    earlier.add({"symbol": "BTC/USDT:USDT", "kind": "escalation", "message": "closes failed"})
    earlier.close()
    got = tmp_path / "received"
    outbox = HookOutbox(path, "main", logger)
    alerts = Alerts(logger=logger, command=f"sh -c 'cat >> {got}; echo >> {got}'",
                    hook_threads=1, outbox=outbox)
    try:
        alerts.resend_left()
        wait_until(lambda: len(_received(got)) == 2, timeout=20,
                   message="both good rows delivered")
        alerts.wait(20)
        assert outbox.left() == []
    finally:
        outbox.close()
    assert [a["kind"] for a in _received(got)] == ["kill_switch", "escalation"]
    said = [line for line in lines if "outbox row 2 " in line]
    assert len(said) == 1 and str(path) in said[0] and "dropped" in said[0], said
