"""Telegram's /pause while an account's database stalls: answered within the bound, and never
"NOT paused (FAILED)" for a pause the database may still store.

Found by review: the pause's control row waited the writer's 60 s; the command poller (every
later /status and /pause) waited with it, and the TimeoutError was answered "NOT paused
(FAILED): b: TimeoutError" (one account: "/pause FAILED ..."). But a write that timed out stays
queued and commits once the database answers: the restarted or recovered bot then paused the
account the reply said was not paused. Now such an account is "NOT CONFIRMED ... it may still
be carried out".

Real SQLite repositories; one's writer thread held inside a unit (HeldWriter)."""

from __future__ import annotations

from types import SimpleNamespace

from loguru import logger

from dashboard.wiring import pause_accounts
from storage import control
from storage.repository import Repository
from tests.protections.test_guard_writes_bounded import HeldWriter, answered


def test_a_pause_the_database_is_slow_to_store_is_not_answered_failed(tmp_path):
    a = Repository(tmp_path / "a.sqlite", synchronous="normal")
    b = Repository(tmp_path / "b.sqlite", synchronous="normal")
    accounts = [SimpleNamespace(name="a", repo=a), SimpleNamespace(name="b", repo=b)]
    try:
        held = HeldWriter(b)
        try:
            out = answered(lambda: pause_accounts(accounts, "telegram chat 7", logger))
        finally:
            held.release()  # the database answers again: b's queued row commits
        reply = out.get("answer")
        assert reply is not None, out
        assert control.pending_commands(a) == [("pause", "*")]
        assert control.pending_commands(b) == [("pause", "*")]  # b will be paused after all
        assert "FAILED" not in reply and "NOT paused" not in reply, reply
        assert reply.startswith("pausing new entries on 1 of 2 account(s): a; NOT CONFIRMED: "
                                "b "), reply
        assert "may still be carried out" in reply, reply
    finally:
        a.close()
        b.close()


def test_one_account_whose_pause_is_not_confirmed_is_answered_so(tmp_path):
    b = Repository(tmp_path / "b.sqlite", synchronous="normal")
    try:
        held = HeldWriter(b)
        try:
            out = answered(lambda: pause_accounts([SimpleNamespace(name="b", repo=b)],
                                                  "telegram chat 7", logger))
        finally:
            held.release()
        assert "error" not in out, out  # not "/pause FAILED": it may still be carried out
        assert "NOT CONFIRMED: b " in out["answer"], out
    finally:
        b.close()
