"""Storage contract, on SQLite and PostgreSQL (found by review of this session's fixes):

- which signal ids are taken (`queries.signal_received`, what makes a duplicate): a signal the
  supervisor journaled as received but could not deliver (its actor had died before the
  supervisor knew: SignalSkipped 'actor not running' right after) is not, so the sender's retry
  is judged again; one skipped by its actor for any other reason stays taken;
- a row nested too deep (json.loads raises RecursionError) never blocks the control queue
  (every control after it - a pause, the kill switch - waited for ever) and never breaks the
  dashboard's journal page."""

from __future__ import annotations

from storage import control, queries, reports
from tests.storage.contract.backends import Backend

SYM = "BTC/USDT:USDT"
DEEP = "[" * 200_000 + "]" * 200_000


def test_a_signal_received_but_not_delivered_does_not_take_its_id(backend: Backend):
    repo = backend.open()
    data = {"signal_id": "s1", "side": "long"}
    repo.record(SYM, "SignalReceived", data, correlation_id="s1")
    repo.record(SYM, "SignalSkipped", {**data, "reason": queries.NOT_DELIVERED},
                correlation_id="s1")
    assert not repo.read(queries.signal_received, "s1")  # the retry is judged again
    repo.record(SYM, "SignalReceived", data, correlation_id="s1")  # the retry, delivered
    assert repo.read(queries.signal_received, "s1")
    repo.record(SYM, "SignalReceived", {**data, "signal_id": "s2"}, correlation_id="s2")
    repo.record(SYM, "SignalSkipped", {"signal_id": "s2", "reason": "cooldown after a loss"},
                correlation_id="s2")
    assert repo.read(queries.signal_received, "s2")  # handled by its actor: taken
    assert not repo.read(queries.signal_received, "s3")


def test_a_control_row_nested_too_deep_does_not_block_the_queue(backend: Backend):
    repo = backend.open()
    backend.sql("INSERT INTO control (command, symbol, args, created_at) VALUES (?, ?, ?, ?)",
                ("signal", SYM, DEEP, 1.0))
    after = control.request(repo, "resume", SYM)
    readable, problems = control.take_readable(repo)
    assert [r[0] for r in readable] == [after]
    assert len(problems) == 1 and "unreadable args" in problems[0]


def test_a_journal_row_nested_too_deep_is_shown_raw(backend: Backend):
    repo = backend.open()
    repo.record(SYM, "SignalReceived", {"signal_id": "d1"}, correlation_id="d1")
    backend.sql("UPDATE events SET data = ? WHERE correlation_id = 'd1'", (DEEP,))
    page = repo.read(reports.journal, SYM, None, 10)
    assert page[0]["data"] == {"raw": DEEP}
