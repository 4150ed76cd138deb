"""A person's kill-switch reset while the switch's own record is not stored yet (the database
stalls) answers within the kill switch's store bound, as the switch itself does, not after a
hard-coded 30 s. Found by review: the reset runs on the account's run loop (the control
applier), and its wait of 30 s for the trip's record held the status dump, the heartbeat and
the protections' pass for 30 s at every click while the database stalled.

The real supervisor and record keeper, the account's guard, real SQLite; the database refuses
to store the switch (its write fails until the test ends), as in
tests/supervision/test_kill_switch_stored_before_answer.py."""

from __future__ import annotations

import threading
from decimal import Decimal
from pathlib import Path
from typing import Any

from loguru import logger

from protections.guard import AccountGuard
from storage.repository import Repository
from tests.supervision.kill_switch_victim import supervisor
from tests.support.waiting import wait_until


class KillSwitchFails(Repository):
    def set_meta(self, key: str, value: str) -> None:
        if key == "kill_switch":
            raise OSError("disk I/O error")
        super().set_meta(key, value)


def test_a_reset_while_the_switch_is_not_stored_answers_within_the_store_bound(
        tmp_path: Path) -> None:
    repo = KillSwitchFails(tmp_path / "bot.sqlite", synchronous="normal")
    sup = supervisor(repo, kill_switch_store_s=0.3)
    outcome: dict[str, Any] = {}

    def reset() -> None:
        try:
            outcome["answer"] = guard.apply("kill_switch_reset", "*", {"by": "dashboard"})
        except Exception as exc:  # noqa: BLE001 - the control applier makes it its one line
            outcome["error"] = exc

    try:
        guard = AccountGuard(repo=repo, sup=sup, checks=[], base=Decimal(10000),
                             alert=sup.alerts.alert, logger=logger)
        guard.apply("kill_switch", "*", {"by": "dashboard"})  # not stored: still retried
        thread = threading.Thread(target=reset, daemon=True)
        thread.start()
        # far above the 0.3 s bound, far below the 30 s the run loop used to stand still
        wait_until(lambda: not thread.is_alive(), timeout=10.0)
        assert "still being stored" in str(outcome.get("error")), outcome
        assert sup.kill_switch  # still on: nothing was lifted
    finally:
        sup.records.close(timeout_s=1)
        repo.close()
