"""A quarantine set from outside the actor (the supervisor's escalation after too many
restarts, an unreadable row) moves the incarnation on: the incarnation it quarantined is
stopping, but pykka still runs its queued messages, and each of their commits wrote the
in-memory quarantined=False back; after a restart the symbol traded again without anybody
resuming it (found by review, demo on real SQLite)."""

from __future__ import annotations

from pathlib import Path

import pytest

from storage.repository import Fenced, Repository
from trading.commands import JournalEntry
from trading.decision import Decision
from trading.frozen import replace

S = "BTC/USDT:USDT"


def test_the_quarantined_incarnation_cannot_commit_the_quarantine_away(tmp_path: Path):
    repo = Repository(tmp_path / "bot.sqlite")
    try:
        incarnation = repo.claim(S)
        state = repo.load(S)
        repo.quarantine(S, "restarted 5 times in 300s; last: no heartbeat reply",
                        correlation_id="c1")
        late = Decision(state=replace(state, cooldown_until=123.0),
                        journal=(JournalEntry(type="X", data={}),))
        with pytest.raises(Fenced):
            repo.commit(S, incarnation, state, late, correlation_id="c2", created_at=1.0)
    finally:
        repo.close()
    repo = Repository(tmp_path / "bot.sqlite")  # the bot restarts
    try:
        restored = repo.load(S)
        assert restored.quarantined and "restarted 5 times" in (restored.quarantine_reason or "")
    finally:
        repo.close()
