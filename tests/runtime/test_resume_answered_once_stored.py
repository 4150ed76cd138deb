"""`bot.py resume` is answered "resumed" once the resumed actor has stored the lifted
quarantine, and a kill before that leaves the row pending, applied again at the next start.

Found by review: the run loop resolved the escalations, forgave an owed close, put the resume
in the supervisor's in-memory inbox and marked the row done "resumed (was quarantined)" (and
journaled it) before any actor had lifted anything. A SIGKILL in that window left the symbol
quarantined while its control row said resumed, and the row was never applied again. Applied
again, the row must not forgive twice: a close owed by an escalation newer than the resume is
run, not dropped. Real subprocess and SIGKILL, real paper exchange, SQLite files and actors."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from loguru import logger

from config.loader import load_settings
from runtime.account import AccountRuntime
from runtime.emergency import OWED
from runtime.stop_accounts import stop_all
from storage import control, queries
from storage.models import ControlRow
from tests.runtime.resume_victim import BTC
from tests.runtime.test_emergency_resume import CONFIG, ROOT
from tests.support.waiting import wait_until


def killed_after_the_resume_was_applied(tmp_path: Path) -> AccountRuntime:
    config = tmp_path / "config.toml"
    config.write_text(CONFIG.format(data=tmp_path / "data"))
    proc = subprocess.Popen([sys.executable, "-m", "tests.runtime.resume_victim", str(config)],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()  # blocks until the run loop's step applied the row
        assert line.strip() == "APPLIED", (line, proc.stderr.read() if proc.poll() is not None
                                           else "")
        os.kill(proc.pid, signal.SIGKILL)
        assert proc.wait(30) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(30)
    settings = load_settings(config)
    account = AccountRuntime(settings.account_settings()[0], settings.data_dir_path(),
                             logger=logger, tagged=True)
    account.open()
    return account


def resume_row(account: AccountRuntime) -> ControlRow:
    assert account.repo is not None
    return account.repo.read(lambda: ControlRow.get(ControlRow.command == "resume"))


def answered(account: AccountRuntime) -> str:
    """Applies the controls (the run loop's step) until the resume row is answered."""
    def done() -> str | None:
        account.apply_controls()
        row = resume_row(account)
        return row.result if row.done_at is not None else None
    return wait_until(done, timeout=60, message="the resume row answered")


def pending_while_quarantined(account: AccountRuntime) -> None:
    assert account.repo is not None
    row, held = resume_row(account), account.repo.read(control.held, BTC, OWED + BTC)
    assert held == "quarantined"  # the lift never reached the database
    assert row.done_at is None, f"answered {row.result!r} while {BTC} is {held}"


def test_a_resume_killed_before_the_lift_is_stored_is_applied_at_the_next_start(tmp_path):
    account = killed_after_the_resume_was_applied(tmp_path)
    try:
        pending_while_quarantined(account)
        account.build()
        account.start()
        repo = account.repo
        assert repo is not None
        assert answered(account) == "resumed (was quarantined)"
        assert repo.read(control.held, BTC, OWED + BTC) is None  # lifted and stored
        assert len(repo.read(queries.events, BTC, "QuarantineLifted")) == 1
        [applied] = repo.read(queries.events, BTC, "ControlApplied")
        assert applied["data"]["result"] == "resumed (was quarantined)"
    finally:
        stop_all([account], logger)
        account.close()


def test_a_resume_applied_again_forgives_no_newer_escalation(tmp_path):
    account = killed_after_the_resume_was_applied(tmp_path)
    lines: list[str] = []
    sink = logger.add(lambda m: lines.append(m.record["message"]), level="WARNING")
    try:
        pending_while_quarantined(account)
        repo = account.repo
        assert repo is not None
        # the symbol escalated again after the resume began (its close failed again)
        repo.add_escalation(BTC, "close failed 3 times", 3, "refused")
        repo.set_meta(OWED + BTC, "close failed 3 times")
        account.build()
        account.start()
        assert account.alerts is not None
        result = answered(account)
        assert result.startswith(f"not resumed: {BTC} escalated again"), result
        assert not any("resumed while the bot was down" in line for line in lines), lines
        assert any("interrupted by a restart, run again" in a["message"]
                   for a in account.alerts.sent)  # the newer escalation's close is run
        assert [e["symbol"] for e in repo.read(queries.open_escalations)] == [BTC]
        assert repo.read(queries.events, BTC, "QuarantineLifted") == []
    finally:
        logger.remove(sink)
        stop_all([account], logger)
        account.close()
