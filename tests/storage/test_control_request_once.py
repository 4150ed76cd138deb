"""`storage.control.request_once`, the dashboard's control queue: a request equal to the newest
pending control is answered as that one and queues nothing; an applied control, another one in
between or another side is a new control. Real SQLite, the repository's writer thread; several
threads asking at once (two tabs) queue one row. The browser test of the same
(tests/dashboard/test_page_control_pressed_twice.py) depends on presses landing inside one
status round; this one does not."""

from __future__ import annotations

import threading
import time

from storage.control import SIGNAL_TTL_S, mark_done, request, request_once
from storage.models import ControlRow
from storage.repository import Repository

BTC = "BTC/USDT:USDT"


def rows(repo: Repository) -> list[tuple[int, str, str]]:
    return repo.read(lambda: [(r.id, r.command, r.symbol)
                              for r in ControlRow.select().order_by(ControlRow.id)])


def test_the_same_pending_control_is_queued_once(tmp_path):
    repo = Repository(tmp_path / "bot.sqlite")
    try:
        first, new = request_once(repo, "signal", BTC, side="exit", signal_id="a")
        assert new
        again, new = request_once(repo, "signal", BTC, side="exit", signal_id="b")
        assert (again, new) == (first, False)
        other, new = request_once(repo, "signal", BTC, side="long", signal_id="c")
        assert new and other != first  # another side is another control
        # the newest pending row is another control now: the exit again is a new row
        third, new = request_once(repo, "signal", BTC, side="exit", signal_id="d")
        assert new and third not in (first, other)
        mark_done(repo, third, "applied")
        fourth, new = request_once(repo, "signal", BTC, side="exit", signal_id="e")
        assert new and fourth != third  # applied already: no duplicate of it
        assert len(rows(repo)) == 4
    finally:
        repo.close()


def test_presses_at_once_from_many_threads_queue_one_row(tmp_path):
    repo = Repository(tmp_path / "bot.sqlite")
    answers: list[tuple[int, bool]] = []
    start = threading.Barrier(8)

    def press() -> None:
        start.wait(10)
        answers.append(request_once(repo, "kill_switch", "*"))

    threads = [threading.Thread(target=press) for _ in range(8)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert len(answers) == 8
        assert [new for _, new in answers].count(True) == 1
        assert len({cid for cid, _ in answers}) == 1
        assert [c for _, c, _ in rows(repo)] == ["kill_switch"]
    finally:
        repo.close()


def test_a_pending_signal_that_expires_first_is_no_duplicate(tmp_path):
    """A close pressed while the account's worker is down (run --workers: the parent serves
    the dashboard) stays queued; pressed again minutes later it must not be answered "already
    queued" by the first row, which the run loop drops as expired (SIGNAL_TTL_S from its
    creation) when the worker runs again: the second close would be lost. Also a `bot.py
    signal` row with its own `expires_at` already past."""
    repo = Repository(tmp_path / "bot.sqlite")
    try:
        old, new = request_once(repo, "signal", BTC, side="exit", signal_id="a")
        assert new
        queued_long_ago = time.time() - SIGNAL_TTL_S - 100  # its legacy expiry is past
        repo.writer.submit(lambda: ControlRow.update(created_at=queued_long_ago)
                           .where(ControlRow.id == old).execute())
        again, new = request_once(repo, "signal", BTC, side="exit", signal_id="b")
        assert new and again != old
        cli = request(repo, "signal", BTC, side="exit", signal_id="c",
                      expires_at=time.time() - 1)  # expired while queued
        fresh, new = request_once(repo, "signal", BTC, side="exit", signal_id="d")
        assert new and fresh not in (old, again, cli)
        # a fresh one is still the same control (a double click)
        twice, new = request_once(repo, "signal", BTC, side="exit", signal_id="e")
        assert (twice, new) == (fresh, False)
    finally:
        repo.close()
