"""Issue 16 item 12: the kill switch counts distinct escalated symbols, not escalation records.
One symbol that a person resumes back into the same crash loop a few times is one problem; it
must not halt every other symbol of the account."""

from __future__ import annotations

from pathlib import Path

from supervision.restart_policy import RestartPolicy
from tests.support.crashing import ActorBug
from tests.support.harness import Harness, NoSignals
from tests.support.waiting import wait_until

SYMBOLS = ["BTC/USDT:USDT", "ETH/USDT:USDT", "SOL/USDT:USDT", "XRP/USDT:USDT"]


class Crashes:
    name = "buggy"

    def on_price(self, price, volume, now, position):  # noqa: ANN001, ANN201
        raise ActorBug("bug in the strategy")


def _bot(tmp_path: Path, crashing: set[str]) -> Harness:
    return Harness(tmp_path, SYMBOLS, kill_switch_escalations=2,
                   policy=RestartPolicy(max_restarts=1, period_s=60, backoff_initial_s=0.01,
                                        backoff_max_s=0.02, stable_after_s=30),
                   strategy_for=lambda s: Crashes() if s in crashing else NoSignals())


def _escalations(h: Harness, symbol: str) -> int:
    return sum(1 for e in h.sup.escalations if e["symbol"] == symbol)


def _crash_into_quarantine(h: Harness, symbol: str, times: int) -> None:
    for _ in range(times):
        before = _escalations(h, symbol)
        wait_until(lambda: h.child(symbol).state.value == "running", message=f"{symbol} running")
        wait_until(lambda before=before: (h.poll(), _escalations(h, symbol) > before)[1],
                   timeout=20,
                   message=f"{symbol} escalated again")


def test_one_symbol_resumed_into_its_crash_loop_does_not_trip_the_kill_switch(tmp_path: Path):
    h = _bot(tmp_path, {"BTC/USDT:USDT"}).start()
    try:
        _crash_into_quarantine(h, "BTC/USDT:USDT", 1)
        for _ in range(3):  # a person resumes it; it crash-loops into quarantine again
            wait_until(lambda: h.child("BTC/USDT:USDT").state.value == "quarantined",
                       message="quarantined")
            # as `bot.py resume` does (runtime/controls.py): once the quarantine is stored (the
            # record keeper writes it after QUARANTINED shows; the supervisor refuses a resume
            # that waits for it longer than 1 s)
            wait_until(lambda: h.sup.records.pending("BTC/USDT:USDT") == 0, timeout=30,
                       message="the quarantine stored")
            assert h.sup.resume("BTC/USDT:USDT", by="test")
            _crash_into_quarantine(h, "BTC/USDT:USDT", 1)
        assert _escalations(h, "BTC/USDT:USDT") == 4
        assert not h.sup.kill_switch and not h.sup.entries_blocked()
    finally:
        h.stop()


def test_three_distinct_symbols_escalating_trip_the_kill_switch(tmp_path: Path):
    h = _bot(tmp_path, {"BTC/USDT:USDT", "ETH/USDT:USDT", "SOL/USDT:USDT"}).start()
    try:
        wait_until(lambda: (h.poll(), h.sup.kill_switch)[1], timeout=30, message="kill switch")
        assert len({e["symbol"] for e in h.sup.escalations}) == 3
    finally:
        h.stop()


def test_a_restart_keeps_counting_the_window_s_escalations_until_a_person_resets(tmp_path: Path):
    """Two symbols escalate, the process restarts, a third escalates within the window: that is
    three, and the kill switch trips (the count used to start again at zero on every start, so
    a crash-looping process never tripped it). After a person's reset, a restart does not count
    the escalations before the reset again."""
    h = _bot(tmp_path, {"BTC/USDT:USDT", "ETH/USDT:USDT"}).start()
    try:
        wait_until(lambda: (h.poll(), len({e["symbol"] for e in h.sup.escalations}) == 2)[1],
                   timeout=30, message="two symbols escalated")
        assert not h.sup.kill_switch
    finally:
        h.stop()
    h = _bot(tmp_path, {"SOL/USDT:USDT"}).start()
    try:
        assert len(h.sup.escalations) >= 2  # read back from the escalations table
        wait_until(lambda: (h.poll(), h.sup.kill_switch)[1], timeout=30, message="kill switch")
        h.sup.reset_kill_switch(by="test")
    finally:
        h.stop()
    h = _bot(tmp_path, {"XRP/USDT:USDT"}).start()
    try:
        assert h.sup.escalations == [] and not h.sup.kill_switch
        wait_until(lambda: (h.poll(), _escalations(h, "XRP/USDT:USDT") == 1)[1], timeout=30,
                   message="XRP escalated")
        assert not h.sup.kill_switch
    finally:
        h.stop()
