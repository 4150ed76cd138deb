"""A person's kill switch is answered "on" only once it is stored, so a process killed right
after the answer comes back with the switch on. Found by review: the answer came at once while
the record keeper stored the switch in the background; a `kill -9` in between restarted the bot
with the switch off, though the person had been told it was on. A store that does not finish in
time is answered in one line saying so (the switch holds in memory and is still retried).

A real subprocess (tests/supervision/kill_switch_victim.py) with a slow database, SIGKILLed at
its answer; real SQLite; the account's guard and supervisor as the bot builds them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

from loguru import logger

from protections.guard import AccountGuard
from storage.repository import Repository
from tests.supervision.kill_switch_victim import supervisor

ROOT = Path(__file__).resolve().parents[2]


def test_the_kill_switch_answered_on_survives_a_kill_right_after(tmp_path: Path) -> None:
    db = tmp_path / "bot.sqlite"
    proc = subprocess.Popen([sys.executable, "-m", "tests.supervision.kill_switch_victim",
                             str(db)], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        assert proc.stdout is not None
        answer = proc.stdout.readline().strip()
        os.kill(proc.pid, signal.SIGKILL)  # right after the person is told
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert answer == "kill switch on", proc.stderr.read() if proc.stderr else ""
    repo = Repository(db, synchronous="normal")
    try:
        assert repo.get_meta("kill_switch") == "1"
        sup = supervisor(repo)  # the restarted bot
        assert sup.kill_switch
        sup.records.close()
    finally:
        repo.close()


class KillSwitchFails(Repository):
    def set_meta(self, key: str, value: str) -> None:
        if key == "kill_switch":
            raise OSError("disk I/O error")
        super().set_meta(key, value)


def test_a_kill_switch_not_stored_in_time_says_so_in_one_line(tmp_path: Path) -> None:
    repo = KillSwitchFails(tmp_path / "bot.sqlite", synchronous="normal")
    sup = supervisor(repo, kill_switch_store_s=0.3)
    try:
        guard = AccountGuard(repo=repo, sup=sup, checks=[], base=Decimal(10000),
                             alert=sup.alerts.alert, logger=logger)
        answer = guard.apply("kill_switch", "*", {"by": "dashboard"})
        assert answer.startswith("kill switch on, NOT stored yet: ") and "\n" not in answer
        assert "within 0.3s" in answer and sup.kill_switch
        again = guard.apply("kill_switch", "*", {"by": "dashboard"})
        assert again.startswith("kill switch already on, NOT stored yet: ")
    finally:
        sup.records.close(timeout_s=1)
        repo.close()
