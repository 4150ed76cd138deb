"""The supervisor keeps only the escalations its kill switch still counts (those of the
window): a long run's escalations do not grow a list for good.

Found by review: every escalation was appended to `Supervisor.escalations` and only a person's
kill switch reset emptied it; an escalation without a close (a persistent contradiction about a
position, trading/evidence.py) can come back for months. Real supervisor thread and SQLite;
its wall clock is given to the constructor."""

from __future__ import annotations

from pathlib import Path

from storage.repository import Repository
from tests.supervision.kill_switch_victim import BTC, supervisor
from tests.support.waiting import wait_until
from trading.commands import Escalate

N = 500


def test_only_the_windows_escalations_are_kept(tmp_path: Path) -> None:
    repo = Repository(tmp_path / "bot.sqlite", synchronous="normal")
    now = [1_800_000_000.0]
    beats = [0]
    sup = supervisor(repo, clock=lambda: now[0],  # window 600 s
                     on_heartbeat=lambda: beats.__setitem__(0, beats[0] + 1))
    sup.start()
    try:
        for n in range(N):
            now[0] += 60.0  # one escalation a minute: ten of them inside the window
            sup.escalated(BTC, Escalate(reason=f"r{n}", attempts=0, last_error=None,
                                        close=False))
        wait_until(lambda: sup.escalations and sup.escalations[-1]["reason"] == f"r{N - 1}",
                   message="every escalation listed")
        # _on_escalation appends, alerts, and trims the list to the window only after that: a
        # heartbeat begun after the last one is listed comes after it is handled (one thread)
        seen = beats[0]
        wait_until(lambda: beats[0] > seen, message="the supervisor's next heartbeat")
        assert len(sup.escalations) <= 11, len(sup.escalations)
        assert not sup.kill_switch
    finally:
        sup.stop()
        repo.close()
