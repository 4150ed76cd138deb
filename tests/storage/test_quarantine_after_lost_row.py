"""A symbol stopped by an escalation stays stopped when its stored quarantine is lost.

Incident 2's escalation quarantines the symbol (no new entries, its own close retries held
while the emergency close owns the position) and leaves an escalations row open until a person
resumes it. The quarantine itself lives in actor_state (and the grid's grid_state document):
with that row gone (deleted by hand, lost) the restart read "not quarantined" and the symbol
took entries again while its escalation stood open. Now the restore (storage/held_on_restore.py)
quarantines it again from the open escalation; a resume (which resolves it) still lifts it.

Production DecisionLoop and cores, real SQLite Repository closed and opened again, the rows
deleted with sqlite3 in between; the fake venue of tests/actors/test_stuck_close_escalates.py
refusing every close (tests/storage/test_close_attempts_survive_restart.py's bot)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator

import pytest

from actors.messages import ExternalSignal, Resume, Timer
from tests.storage.test_close_attempts_survive_restart import (  # noqa: F401 - `bot`: fixture
    BACKOFF_AFTER_FIRST,
    Bot,
    bot,
)
from trading.model import Side

LOST = {"one_way": ("actor_state",), "grid": ("actor_state", "grid_state")}


@pytest.fixture
def escalated(bot: Bot) -> Iterator[Bot]:  # noqa: F811 - the imported fixture, by name
    """The bot's symbol escalated (its closes all refused), then stopped and its quarantine
    rows deleted by hand."""
    bot.first_close()
    bot.handle(Timer(), after_s=BACKOFF_AFTER_FIRST)
    bot.t += 10
    bot.handle(Timer())
    assert len(bot.escalations) == 1 and bot.loop.state.quarantined
    assert bot.repo is not None
    bot.repo.close()
    with sqlite3.connect(bot.tmp / "bot.sqlite") as c:
        for table in LOST[bot.style]:
            c.execute(f"DELETE FROM {table}")  # noqa: S608 - fixed names
        (open_rows,) = c.execute(
            "SELECT COUNT(*) FROM escalations WHERE resolved_at IS NULL").fetchone()
    assert open_rows == 1
    bot.repo = None
    yield bot


def sent_since(b: Bot, before: int) -> list[str]:
    return list(b.venue.orders)[before:]


def test_a_symbol_whose_quarantine_row_was_lost_stays_quarantined_by_its_open_escalation(
        escalated: Bot):
    b = escalated
    orders_before = len(b.venue.orders)
    b.restart()
    state = b.loop.state
    assert state.quarantined
    assert state.quarantine_reason == b.escalations[0].reason
    if b.style == "one_way":
        b.handle(ExternalSignal(side=Side.LONG, signal_id="again"))
    for _ in range(3):
        b.handle(Timer(), after_s=5)
    # no entry (one-way) and no new leg or level (grid) went out while it is escalated
    assert not [cid for cid in sent_since(b, orders_before) if cid[-1] in "ea"]


def test_a_resume_still_lifts_it(escalated: Bot):
    b = escalated
    b.restart()
    assert b.loop.state.quarantined
    assert b.repo is not None
    b.repo.resolve_escalations("BTC/USDT:USDT")  # what `bot.py resume` does first
    b.handle(Resume(by="test"))
    assert not b.loop.state.quarantined
    b.restart()
    assert not b.loop.state.quarantined


def test_the_newest_open_escalation_gives_the_reason(escalated: Bot):
    """Two escalations stand open (the close one, then a crash loop): the restored quarantine
    says the newest, as the escalation that quarantined it last did."""
    b = escalated
    with sqlite3.connect(b.tmp / "bot.sqlite") as c:
        c.execute("INSERT INTO escalations (symbol, reason, attempts, created_at) "
                  "VALUES ('BTC/USDT:USDT', 'crash loop: 3 restarts in 60s', 3, ?)", (b.t,))
    b.restart()
    assert b.loop.state.quarantined
    assert b.loop.state.quarantine_reason == "crash loop: 3 restarts in 60s"
    assert b.escalations[0].reason != "crash loop: 3 restarts in 60s"


def test_a_stored_quarantine_keeps_its_own_reason(bot: Bot):  # noqa: F811 - the fixture
    """The stored state still quarantined: the restore reads it as stored (the open escalation
    is the fallback for a lost quarantine only, not a rewrite of every quarantined symbol)."""
    bot.first_close()
    bot.handle(Timer(), after_s=BACKOFF_AFTER_FIRST)
    bot.t += 10
    bot.handle(Timer())
    stored = bot.loop.state.quarantine_reason
    assert bot.loop.state.quarantined and stored
    assert bot.repo is not None
    bot.repo.close()
    with sqlite3.connect(bot.tmp / "bot.sqlite") as c:
        c.execute("UPDATE escalations SET reason = 'an older wording of the escalation'")
    bot.repo = None
    bot.restart()
    assert bot.loop.state.quarantined
    assert bot.loop.state.quarantine_reason == stored
