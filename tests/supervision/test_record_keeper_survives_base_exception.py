"""The supervisor's record thread survives a write that raises a BaseException (a library's
sys.exit): that record is retried like any failed write, and the records after it are stored.

Found by review: RecordKeeper caught Exception only; a SystemExit out of one write ended its
thread without a line, and no quarantine, escalation or kill switch was stored after it (a
person's kill switch was answered "NOT stored yet" for ever and lost at the next restart).
A real RecordKeeper thread; the writes are plain callables."""

from __future__ import annotations

from typing import Any

from supervision.record_keeper import RecordKeeper


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
