"""A `bot.py resume` applied while the database stalls is answered within the run loop's
bound and left pending, never answered with an error while its writes still commit.

Found by review: the resume's first half (its escalations resolved, its owed emergency close
forgiven) waited the writer's 60 s with the run loop held still (status, heartbeat,
protections), then the row was marked done with "TimeoutError: database commit did not finish
in time", while the queued write committed a moment later: the close the person was told had
not been touched was forgiven. Real SQLite whose writer thread is held inside one unit
(tests/protections/test_guard_writes_bounded.py), the real applier and journal function."""

from __future__ import annotations

from pathlib import Path

from loguru import logger

from protections.wiring import journal_control
from runtime.controls import ControlApplier
from runtime.emergency import OWED
from storage import control
from storage.models import ControlRow
from storage.repository import Repository
from supervision.child import ChildState
from tests.protections.test_guard_writes_bounded import HeldWriter, answered
from tests.runtime.test_cli_leftovers import BTC, Child, Sup
from tests.support.waiting import wait_until


def row(repo: Repository, cid: int) -> tuple[float | None, str | None]:
    return repo.read(lambda: (lambda r: (r.done_at, r.result))(ControlRow.get_by_id(cid)))


def test_a_resume_whose_first_half_stalls_stays_pending_and_is_answered_once(tmp_path: Path):
    repo = Repository(tmp_path / "bot.sqlite")
    sup = Sup({BTC: Child(ChildState.RUNNING)})
    applier = ControlApplier(repo=repo, sup=sup, log=logger, journal=journal_control,
                             store_s=0.3)
    try:
        repo.quarantine(BTC, "close failed 3 times", correlation_id="q1")
        repo.add_escalation(BTC, "close failed 3 times", 3, "refused")
        repo.set_meta(OWED + BTC, "close failed 3 times")
        cid = control.request(repo, "resume", BTC, by="cli")
        held = HeldWriter(repo)
        try:
            out = answered(applier.apply)  # within the run loop's bound, not the writer's 60 s
            assert "error" not in out, out
            assert row(repo, cid) == (None, None)  # pending: neither done nor failed
            assert sup.resumed == []  # nothing handed over before the first half is stored
            answered(applier.apply)  # a later round while it still stalls: waits again
            assert row(repo, cid) == (None, None) and sup.resumed == []
        finally:
            held.release()  # the first half commits now
        assert repo.get_meta(OWED + BTC) == ""

        def done() -> str | None:
            applier.apply()
            return row(repo, cid)[1] if row(repo, cid)[0] is not None else None
        assert wait_until(done, message="the resume answered") == "resumed (was quarantined)"
        assert sup.resumed == [BTC]  # handed over once
    finally:
        repo.close()
