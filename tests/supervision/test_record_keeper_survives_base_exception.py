"""The supervisor's record thread survives a write that raises a BaseException (a library's
sys.exit): that record is retried like any failed write, and the records after it are stored.

Found by review: RecordKeeper caught Exception only; a SystemExit out of one write ended its
thread without a line, and no quarantine, escalation or kill switch was stored after it (a
person's kill switch was answered "NOT stored yet" for ever and lost at the next restart).
A real RecordKeeper thread; the writes are plain callables."""

from __future__ import annotations

import threading
from typing import Any

from supervision.record_keeper import RecordKeeper
from tests.support.waiting import wait_until


class Lines:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def _add(self, text: str, *args: Any) -> None:
        self.lines.append(text.format(*args))

    error = warning = _add


def test_a_system_exit_in_one_write_stops_no_record() -> None:
    keeper = RecordKeeper(retry_initial_s=0.01, retry_max_s=0.02)
    log = Lines()
    stored: list[str] = []
    tries = {"n": 0}

    def exits_once() -> None:
        tries["n"] += 1
        if tries["n"] == 1:
            raise SystemExit(2)
        stored.append("quarantine")

    try:
        keeper.add(log, "the quarantine", exits_once, must=True, symbol="BTC/USDT:USDT")
        keeper.add(log, "the kill switch", lambda: stored.append("kill switch"), must=True,
                   symbol="*kill switch*")
        assert keeper.wait_stored("*kill switch*", timeout_s=10), log.lines
        assert keeper.wait_stored("BTC/USDT:USDT", timeout_s=10), log.lines
        assert sorted(stored) == ["kill switch", "quarantine"]
        assert any("the quarantine not stored" in line for line in log.lines)
    finally:
        keeper.close()


def test_a_record_the_rules_need_is_kept_past_max_pending() -> None:
    # found by the mutation audit: leaving out a must record past max_pending like a
    # best-effort one passed every test; a stalled database would lose the kill switch
    keeper = RecordKeeper(max_pending=1)
    log = Lines()
    stored: list[str] = []
    go = threading.Event()

    def stalls() -> None:
        go.wait(30)
        stored.append("restart count")

    try:
        keeper.add(log, "the restart count", stalls, symbol="BTC/USDT:USDT")
        keeper.add(log, "another restart count", lambda: stored.append("x"), symbol="ETH")
        keeper.add(log, "the kill switch", lambda: stored.append("kill switch"), must=True,
                   symbol="*kill switch*")
        go.set()
        wait_until(lambda: keeper.pending() == 0, timeout=10, message="the records written")
        assert stored == ["restart count", "kill switch"], log.lines
        assert any("another restart count not stored" in line for line in log.lines)
    finally:
        go.set()
        keeper.close()


def test_a_write_that_outlasted_the_deadline_is_not_written_again() -> None:
    # found by the mutation audit: treating the writer's TimeoutError (the write still queued
    # in the writer: it commits there) as a failure passed every test; retried, it is
    # written twice
    keeper = RecordKeeper(retry_initial_s=0.01, retry_max_s=0.02)
    log = Lines()
    calls: list[str] = []

    def late() -> None:
        calls.append("escalation")
        raise TimeoutError("not committed within 60 s")

    try:
        keeper.add(log, "the escalation", late, must=True, symbol="BTC/USDT:USDT")
        assert keeper.wait_stored("BTC/USDT:USDT", timeout_s=10), log.lines
        assert calls == ["escalation"], log.lines
        assert any("the escalation not confirmed yet" in line for line in log.lines)
    finally:
        keeper.close()


def test_a_stop_writes_a_waiting_record_once_more_and_ends() -> None:
    # found by the mutation audit: at close, a record waiting for its retry was no longer
    # written at once (close gave up on it) nor given up after that one more failure (the
    # thread retried it for ever); both passed every test
    keeper = RecordKeeper(retry_initial_s=3600, retry_max_s=3600)
    log = Lines()
    stored: list[str] = []
    tries = {"n": 0}

    def fails_once() -> None:
        tries["n"] += 1
        if tries["n"] == 1:
            raise OSError("database is locked")
        stored.append("quarantine")

    keeper.add(log, "the quarantine", fails_once, must=True, symbol="BTC/USDT:USDT")
    wait_until(lambda: tries["n"] == 1, timeout=10, message="the first failure")
    assert keeper.close(timeout_s=10) == 0, log.lines
    assert stored == ["quarantine"]
    failing = RecordKeeper(retry_initial_s=3600, retry_max_s=3600)
    failing.add(log, "the kill switch", lambda: 1 / 0, must=True, symbol="*kill switch*")
    wait_until(lambda: any("the kill switch not stored" in line for line in log.lines),
               timeout=10, message="the first failure")
    assert failing.close(timeout_s=10) == 0, log.lines
    assert sum("the kill switch not stored" in line for line in log.lines) == 2, log.lines
