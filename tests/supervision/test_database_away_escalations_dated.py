"""While an account's database does not answer the status round, its escalations are shown as
last read, with the time of that read; before any read they are "not read yet", never none.

Found by review: the `DATABASE unreachable` line said the escalations were as last read but not
when, and on the first status round of a run whose database was already gone the escalation
list was empty: a person read "no escalation" where nothing had been read at all.

A real account (pykka actors, the supervisor, a SQLite file, the paper exchange); the table the
status round reads is renamed away under the running bot, as tests/storage/ does."""

from __future__ import annotations

import re
import sqlite3
import time

from notifications.status_text import status_text
from supervision.status import combine_status, render_table
from tests.supervision.test_unprotected_alert import BTC, running

BOT = {"pid": 7, "running": True, "mode": "paper", "version": "v", "account": "main"}


def round_of(account) -> dict:
    now = time.time()
    return combine_status(BOT, {"main": account.status({}, now)}, now, grouped=False)


def escalations_away(path, away: bool) -> None:
    names = ("escalations", "escalations_away")
    with sqlite3.connect(path) as con:
        con.execute("ALTER TABLE {} RENAME TO {}".format(*(names if away else names[::-1])))


def database_line(text: str) -> str:
    [line] = [x for x in text.splitlines() if "DATABASE" in x]
    return line


def test_escalations_not_read_yet_then_dated_while_the_database_is_away(tmp_path):
    with running(tmp_path, None, symbols=[BTC]) as (account, _fx, _lines):
        path = account.repo.path
        account.repo.add_escalation(BTC, "close failed 5 times", 5, "InvalidOrder")
        escalations_away(path, True)  # gone before the run's first status round
        first = round_of(account)
        account_entry = first["accounts"]["main"] if "accounts" in first else first
        assert account_entry["database"].startswith("unreachable: database error")
        # before the fix: '... no such table: escalations' and no escalation, read as none
        for text in (status_text(first), render_table(first)):
            line = database_line(text)
            assert "escalations" in line and "not read yet" in line, line
        assert account_entry.get("database_read_at", "absent") is None

        escalations_away(path, False)
        before = time.time()
        answered = round_of(account)
        after = time.time()
        assert "database" not in answered or not answered["database"]
        assert [e["symbol"] for e in answered["escalations"]] == [BTC]

        escalations_away(path, True)
        later = round_of(account)
        assert [e["symbol"] for e in later["escalations"]] == [BTC]  # as last read
        read_at = later["database_read_at"]
        assert before <= read_at <= after, (before, read_at, after)
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(read_at))
        for text in (status_text(later), render_table(later)):
            line = database_line(text)
            assert re.search(f"as last read at {stamp}", line), line
