"""`bot.py resume X` run twice (the first answer not read, a shell history replayed) while the
first resume is still pending: one row, the second answered "already queued" with its id.
`bot.py signal` run twice is two signals (each its own id, `cli-<control id>`): never swallowed.

Found by review: every run queued a new row, so one quarantine lift was asked for twice and
journaled twice. Real `python bot.py` subprocesses, a temp data dir and config, real SQLite
(storage/control.py SAME, the rule the dashboard and Telegram's /pause answer by too)."""

from __future__ import annotations

import sqlite3

from storage import control
from tests.runtime.test_cli_leftovers import BTC, ETH, bot, controls, write_config


def _quarantine(db, symbol: str) -> None:
    with sqlite3.connect(db) as con:
        con.execute("INSERT INTO actor_state (symbol, incarnation, phase, order_seq, "
                    "cooldown_until, close_attempts, needs_stop, quarantined, restarts, "
                    "updated_at) VALUES (?, 1, 'flat', 0, 0, 0, 0, 1, 0, 0)", (symbol,))


def test_resume_run_twice_while_pending_queues_one_row_and_says_already_queued(tmp_path):
    config = write_config(tmp_path)
    db = tmp_path / "data" / "bot.sqlite"
    assert bot(config, "signal", ETH, "exit").returncode == 0  # makes the database
    _quarantine(db, BTC)
    first = bot(config, "resume", BTC)
    assert first.returncode == 0, first.stderr
    (rid,) = [i for i, c, _, _, _ in controls(db) if c == "resume"]
    again = bot(config, "resume", BTC)
    assert again.returncode == 0, again.stderr
    assert [c for _, c, _, _, _ in controls(db)] == ["signal", "resume"]
    assert f"resume {BTC}: queued (control {rid})" in first.stdout, first.stdout
    assert f"resume {BTC}: already queued (control {rid}, still pending), not queued again" \
        in again.stdout, again.stdout
    with sqlite3.connect(db) as con:  # applied: a resume asked after that is a new one
        con.execute("UPDATE control SET done_at = 1, result = 'resumed' WHERE id = ?", (rid,))
    later = bot(config, "resume", BTC)
    assert later.returncode == 0 and ": queued (control" in later.stdout, later.stdout
    assert [c for _, c, _, _, _ in controls(db)] == ["signal", "resume", "resume"]


def test_signal_run_twice_is_two_signals(tmp_path):
    config = write_config(tmp_path)
    db = tmp_path / "data" / "bot.sqlite"
    for _ in range(2):
        r = bot(config, "signal", BTC, "long")
        assert r.returncode == 0 and ": queued (control" in r.stdout, (r.stdout, r.stderr)
    assert [(c, a["side"]) for _, c, _, a, _ in controls(db)] == [("signal", "long")] * 2


def test_request_at_once_answers_the_pending_row_in_its_own_transaction(tmp_path):
    config = write_config(tmp_path)
    db = tmp_path / "data" / "bot.sqlite"
    assert bot(config, "signal", ETH, "exit").returncode == 0  # the bot's schema
    first = control.request_at_once(db, "pause", "*", {"by": "a"})
    assert first[1] is True
    assert control.request_at_once(db, "pause", "*", {"by": "b"}) \
        == (first[0], False)
    assert control.request_at_once(db, "unpause", "*", {})[1] is True
    assert control.request_at_once(db, "pause", "*", {})[1] is True
    assert control.request_at(db, "pause", "*", {}) > first[0]  # no check: always a new row
