"""`run --workers N`: a worker exit that stops the whole bot (code 3, an account locked by
another bot; code 2 before it ever ran) raises the `worker_escalation` alert, as the restart
intensity's end of the bot does. Found by review: it was one log line only, so a worker
restarted unattended (after a crash, a hang) that met an account lock held elsewhere stopped
every account, the whole bot exiting 1, with no alert hook ever called. The parent's `popen`
is injected; the started process is a real one that exits with the code at once."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.runtime.worker_rig import ScriptPopen, one_worker_parent


@pytest.mark.parametrize(("code", "why", "ran_before"), [
    (3, "an account is locked by another bot", True),
    (2, "startup error", False),
])
def test_a_worker_exit_that_stops_the_bot_is_alerted(tmp_path: Path, code: int, why: str,
                                                    ran_before: bool) -> None:
    popen = ScriptPopen(f"raise SystemExit({code})")
    p, worker = one_worker_parent(tmp_path, popen)
    worker.ready = ran_before  # restarted after its earlier process had run (code 3)
    try:
        p._start(worker, 100.0)
        assert worker.proc is not None
        worker.proc.wait()
        p._check(worker, 101.0)
    finally:
        worker.close_beats()
        for proc in popen.started:
            proc.wait()
    assert p.failure == f"worker 1 exited with code {code} ({why})"
    told = [(a["kind"], a["message"], a.get("worker")) for a in p.alerts.sent]
    assert told == [("worker_escalation", f"{p.failure}; stopping every worker", 1)]
