"""A kill switch reset that the database does not store leaves the switch on: entries stay
blocked in this process, as they would be after a restart, and the person is told it failed.

Found by review: the reset lifted the switch in memory first and stored it after; a database
error in between answered the person with an error while entries were already allowed again
here (and a restart would have blocked them again: the stored switch was still on). Real
supervisor and the account's guard, real SQLite; the failing write comes from a repository
class given to the constructor."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from loguru import logger

from protections.guard import AccountGuard
from storage.repository import Repository
from tests.supervision.kill_switch_victim import supervisor


class ResetFailsOnce(Repository):
    fail = {"left": 1}

    def set_meta(self, key: str, value: str) -> None:
        if key == "kill_switch" and value == "0" and self.fail["left"] > 0:
            self.fail["left"] -= 1
            raise OSError("disk I/O error (injected)")
        super().set_meta(key, value)


def test_a_reset_not_stored_keeps_the_kill_switch_on(tmp_path: Path) -> None:
    repo = ResetFailsOnce(tmp_path / "bot.sqlite", synchronous="normal")
    sup = supervisor(repo)
    guard = AccountGuard(repo=repo, sup=sup, checks=[], base=Decimal(10000),
                         alert=sup.alerts.alert, logger=logger)
    try:
        assert guard.apply("kill_switch", "*", {"by": "dashboard"}) == "kill switch on"
        with pytest.raises(OSError):
            guard.apply("kill_switch_reset", "*", {"by": "dashboard"})
        assert sup.kill_switch and sup.entries_blocked()  # as stored: still on
        assert repo.get_meta("kill_switch") == "1"
        assert guard.apply("kill_switch_reset", "*", {"by": "dashboard"}) == "kill switch off"
        assert not sup.kill_switch and repo.get_meta("kill_switch") == "0"
    finally:
        sup.records.close()
        repo.close()
