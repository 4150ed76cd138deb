"""The chaos run's signal and protection invariants can fail: each violation, written into a
journal by hand or scripted as the venue's polls, is reported (a checker that never reports
anything would make the chaos test pass vacuously)."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import replace
from pathlib import Path

from tests.e2e.chaos import Chaos
from tests.e2e.chaos_grid import repeated_openings
from tests.e2e.chaos_signals import Sent, check_signals, lost_in_mailbox

KILL, RESTART = 100.0, 105.0
LOST_REASON = "arrived while the actor was down or restarting"


def journal(tmp_path: Path, rows: list[tuple[str, str, dict, float]]) -> Path:
    db = tmp_path / "bot.sqlite"
    con = sqlite3.connect(db)
    con.execute("CREATE TABLE events (id INTEGER PRIMARY KEY, symbol TEXT, type TEXT, data TEXT, "
                "correlation_id TEXT, created_at REAL, recorded_at REAL)")
    con.executemany("INSERT INTO events (symbol, type, data, correlation_id, created_at, "
                    "recorded_at) VALUES ('ETH', ?, ?, ?, ?, ?)",
                    [(t, json.dumps(d), cid, at, at) for t, cid, d, at in rows])
    con.commit()
    con.close()
    return db


def sent(sid: str, status: int | None = 202, at: float = 90.0) -> Sent:
    return Sent(signal_id=sid, symbol="ETH", side="long", status=status, answered_at=at)


def test_a_clean_journal_has_no_violation(tmp_path):
    db = journal(tmp_path, [
        ("SignalReceived", "s1", {"signal_id": "s1"}, 90.0),
        ("SignalHandled", "s1", {"signal_id": "s1"}, 90.1),
        ("EntryRequested", "s1", {}, 90.1),
        ("SignalReceived", "s2", {"signal_id": "s2"}, 99.0),
        ("SignalSkipped", "s2", {"signal_id": "s2", "reason": LOST_REASON}, 106.0),
    ])
    assert check_signals(db, [sent("s1"), sent("s2", at=99.0)], KILL, RESTART) == []
    assert lost_in_mailbox(db, "s2") and not lost_in_mailbox(db, "s1")


def test_an_exit_lost_in_a_mailbox_is_handled_after_the_restart(tmp_path):
    """A lost exit is carried out by the restarted actor; its SignalHandled says it was lost,
    so the kill is proven to have landed with it in the mailbox, and it is no violation."""
    db = journal(tmp_path, [
        ("SignalReceived", "x1", {"signal_id": "x1", "side": "exit"}, 99.0),
        ("SignalHandled", "x1", {"signal_id": "x1",
                                 "reason": f"{LOST_REASON}; carried out after the restart"},
         106.0),
        ("SignalReceived", "x2", {"signal_id": "x2", "side": "exit"}, 98.0),
        ("SignalHandled", "x2", {"signal_id": "x2"}, 98.1),
    ])
    exits = [replace(sent("x1", at=99.0), side="exit"), replace(sent("x2", at=98.0), side="exit")]
    assert check_signals(db, exits, KILL, RESTART) == []
    assert lost_in_mailbox(db, "x1") and not lost_in_mailbox(db, "x2")


def test_an_exit_waiting_for_an_entry_in_flight_is_no_violation(tmp_path):
    """An exit behind an entry still in flight (its send grace after a restart) is journaled
    waiting, decided once the entry ends; lost in a mailbox, its SignalWaiting says so. One
    with no record at all is still reported."""
    db = journal(tmp_path, [
        ("SignalReceived", "w1", {"signal_id": "w1", "side": "exit"}, 99.0),
        ("SignalWaiting", "w1", {"signal_id": "w1", "reason": f"{LOST_REASON}; waits for the "
                                                              "entry in flight"}, 106.0),
        ("SignalReceived", "w2", {"signal_id": "w2", "side": "exit"}, 99.0),
    ])
    exits = [replace(sent(sid, at=99.0), side="exit") for sid in ("w1", "w2")]
    assert check_signals(db, exits, KILL, RESTART) == [
        "signals neither handled nor skipped after the restart: ['w2']"]
    assert lost_in_mailbox(db, "w1") and not lost_in_mailbox(db, "w2")


def test_each_violation_is_reported(tmp_path):
    db = journal(tmp_path, [
        ("SignalReceived", "twice", {"signal_id": "twice"}, 90.0),
        ("SignalReceived", "twice", {"signal_id": "twice"}, 106.0),
        ("SignalHandled", "twice", {"signal_id": "twice"}, 90.1),
        ("SignalReceived", "dangling", {"signal_id": "dangling"}, 99.0),
        ("SignalReceived", "both", {"signal_id": "both"}, 99.0),
        ("SignalHandled", "both", {"signal_id": "both"}, 99.1),
        ("SignalSkipped", "both", {"signal_id": "both", "reason": LOST_REASON}, 106.0),
        ("SignalReceived", "entries", {"signal_id": "entries"}, 91.0),
        ("SignalHandled", "entries", {"signal_id": "entries"}, 91.1),
        ("EntryRequested", "entries", {}, 91.1),
        ("EntryRequested", "entries", {}, 107.0),
    ])
    ids = ["unjournaled", "twice", "dangling", "both", "entries"]
    problems = check_signals(db, [sent(i) for i in ids], KILL, RESTART)
    assert len(problems) == 5, problems
    for sid, words in zip(ids, ["not journaled", "received twice", "neither handled",
                                "handled and skipped", "more than one entry"], strict=True):
        assert any(sid in p and words in p for p in problems), (sid, problems)


def test_an_answer_after_the_kill_or_without_202_need_not_be_journaled(tmp_path):
    db = journal(tmp_path, [])
    late = sent("late", at=KILL + 0.5)
    refused = sent("refused", status=None)
    assert check_signals(db, [late, refused, sent("rejected", status=422)], KILL, RESTART) == []


def _grid_rows(*events: tuple[str, str, dict]) -> list[tuple[int, str, str, str, str]]:
    return [(i, "BTC", kind, json.dumps(d), cid) for i, (kind, cid, d) in enumerate(events, 1)]


def _opened(pid: str) -> tuple[str, str, dict]:
    return ("LegOpened", "m1", {"leg": "short", "position_id": pid})


def test_a_late_level_fill_reopening_the_leg_is_not_a_repeated_decision():
    # the entry opens the short leg; its level is acknowledged for that position; the take-profit
    # closes the leg and the level fills before its cancel lands: the leg opens again
    rows = _grid_rows(_opened("a-g-BTC-1e"),
                      ("LevelPlaced", "m1", {"order": "a-g-BTC-3a", "position_id": "a-g-BTC-1e"}),
                      _opened("a-g-BTC-3a"))
    assert repeated_openings(rows) == []


def test_a_leg_opened_again_by_a_decision_is_reported():
    entry_again = _grid_rows(_opened("a-g-BTC-1e"), _opened("a-g-BTC-4e"))
    placed_while_flat = _grid_rows(
        _opened("a-g-BTC-1e"),
        ("LevelPlaced", "m1", {"order": "a-g-BTC-5a", "position_id": None}),
        _opened("a-g-BTC-5a"))
    other_position = _grid_rows(
        ("LevelPlaced", "m0", {"order": "a-g-BTC-2a", "position_id": "a-g-BTC-0e"}),
        _opened("a-g-BTC-1e"), _opened("a-g-BTC-2a"))
    for rows in (entry_again, placed_while_flat, other_position):
        assert repeated_openings(rows) == [("BTC", "m1", "short")]


class Polled(Chaos):
    """The chaos run's protection check over scripted polls of the venue (the last repeats)."""

    def __init__(self, workdir: Path, polls: list[dict[str, str]]) -> None:
        super().__init__(workdir, signals=False)
        self.polls, self.seen = polls, 0

    def _unprotected(self) -> dict[str, str]:
        self.seen += 1
        return dict(self.polls[min(self.seen, len(self.polls)) - 1])


BTC_MID = {"BTCUSDT": "BTCUSDT: venue 0.003, bot None, stops []"}
ETH_MID = {"ETHUSDT": "ETHUSDT: venue 0.05, bot ('long', 0.05), stops [a, b]"}


def test_symbols_each_clean_at_a_different_poll_are_protected(tmp_path):
    # a Binance run: never one poll with both clean (a held entry, a stop moved new-then-cancel)
    chaos = Polled(tmp_path, [BTC_MID | ETH_MID, BTC_MID, ETH_MID, BTC_MID, ETH_MID])
    chaos._check_protected(bound_s=30.0)
    assert chaos.report.violations == [] and chaos.report.checks == 1
    assert chaos.seen == 3  # done once each was clean at a poll, not at the bound


def test_a_symbol_never_clean_within_the_bound_is_reported(tmp_path):
    sol = {"SOLUSDT": "SOLUSDT: venue -1, bot None, stops []"}
    chaos = Polled(tmp_path, [BTC_MID | ETH_MID | sol, BTC_MID | sol, ETH_MID | sol])
    chaos._check_protected(bound_s=0.5)
    assert len(chaos.report.violations) == 1, chaos.report.violations
    violation = chaos.report.violations[0]
    assert "SOLUSDT: venue -1" in violation
    assert "BTCUSDT" not in violation and "ETHUSDT" not in violation


def test_a_traceback_on_the_bots_stderr_is_reported(tmp_path):
    """Every start's stderr goes to one file the run reads at its end (before, a pipe nobody
    read: a thread that died with a traceback passed unnoticed)."""
    chaos = Chaos(tmp_path, signals=False)
    chaos._check_stderr()  # no start wrote anything
    chaos.stderr.write_text("a sentence is fine\n")
    chaos._check_stderr()
    assert chaos.report.violations == []
    chaos.stderr.write_text("Traceback (most recent call last):\n  File \"x\"\nValueError: boom\n")
    chaos._check_stderr()
    assert len(chaos.report.violations) == 1 and "ValueError: boom" in chaos.report.violations[0]
