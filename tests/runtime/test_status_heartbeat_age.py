"""Rule 12: `bot.py status` of a running bot says how old its last heartbeat is. Found by
review: a bot whose loop stopped writing the snapshot still holds its lock, so the status read
"running" with every actor running and its last figures (tick ages of a fraction of a second),
and only a UTC timestamp to compare with the clock told that nothing had been written for an
hour."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from runtime.status_cli import show_status
from supervision.instance_lock import InstanceLock
from supervision.status import write_status


def _running_bots_first_line(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                             beat: float) -> tuple[Path, str]:
    """A status snapshot of a running bot whose last heartbeat was at `beat`, its lock held
    (by this process) while `bot.py status` runs: the data dir and the first line it printed."""
    data = tmp_path / "data"
    data.mkdir()
    write_status(data, {"bot": {"pid": os.getpid(), "running": True, "mode": "paper",
                                "version": "abc1234", "started_at": beat - 60,
                                "heartbeat_at": beat},
                        "actors": [], "escalations": [], "kill_switch": False,
                        "health": {"open_positions": 0, "protected_positions": 0,
                                   "ts_coverage": 1.0}})
    lock = InstanceLock(data / "bot.lock")
    lock.acquire()
    try:
        assert show_status(data, False, None) is None
        return data, capsys.readouterr().out.splitlines()[0]
    finally:
        lock.release()


def test_a_running_bots_status_says_how_old_its_heartbeat_is(tmp_path, capsys):
    data, first = _running_bots_first_line(tmp_path, capsys, time.time() - 3600)
    assert first.startswith("bot: running") and " s ago)" in first, first
    age = int(first.split("heartbeat ")[1].split("(")[1].split(" s ago")[0])
    assert age >= 3600, first
    # gone without its final snapshot (killed): when it was last alive, no age
    assert show_status(data, False, None) is None
    first = capsys.readouterr().out.splitlines()[0]
    assert first.startswith("bot: NOT RUNNING, STALE STATUS") and "ago" not in first, first


def test_a_heartbeat_ahead_of_the_clock_is_not_shown_as_fresh(tmp_path, capsys):
    """Found by review: a heartbeat an hour ahead of this host's clock (the clock was set back
    after the bot wrote it, then its loop stopped) read `(0 s ago)` for that hour."""
    _, first = _running_bots_first_line(tmp_path, capsys, time.time() + 3600)
    assert "s ago" not in first, first
    assert "s AHEAD of this host's clock: its age is unknown" in first, first
