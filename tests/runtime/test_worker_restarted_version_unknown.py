"""`run --workers`: a restarted worker's status shows no version until its new process says
which code it runs (incident 12: which code is live).

Found by review: the parent filled `bot.workers[].version` and `process_started_at` from the
worker's last snapshot whoever wrote it, so from the restart until the new process wrote its
first status (a cold start of its accounts; never, for a worker that keeps failing at start)
the dump showed the new PID with the version and start time of the process before it, e.g.
the old code after a fix had landed on disk. Real child processes stand in for the workers."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from runtime.workers_role import worker_status_name
from runtime.workers_status import Worker, merge_status, worker_lines

SLEEPER = [sys.executable, "-c", "import time; time.sleep(60)"]


@pytest.fixture
def procs() -> Iterator[list[subprocess.Popen[bytes]]]:
    made: list[subprocess.Popen[bytes]] = []
    yield made
    for proc in made:
        proc.kill()
        proc.wait()


def merged(data: Path, w: Worker, now: float) -> dict:
    bot = {"pid": 1, "running": True, "version": "aaa1111", "accounts": ["alpha"],
           "workers": [w.info()]}
    return merge_status(data, bot, [w], now, grouped=True, mono=now)


def test_a_restarted_worker_shows_no_version_before_its_first_status(
        tmp_path: Path, procs: list[subprocess.Popen[bytes]]) -> None:
    procs.append(first := subprocess.Popen(SLEEPER))
    worker = Worker(index=1, accounts=("alpha",), proc=first)
    (tmp_path / worker_status_name(1)).write_text(json.dumps({
        "bot": {"pid": first.pid, "version": "aaa1111", "started_at": 10.0,
                "heartbeat_at": 11.0},
        "accounts": {"alpha": {"exchange": "paper", "kill_switch": False, "escalations": [],
                               "health": {"open_positions": 0, "protected_positions": 0},
                               "actors": []}}}))
    info = merged(tmp_path, worker, 100.0)["bot"]["workers"][0]
    assert (info["pid"], info["version"], info["process_started_at"]) == (
        first.pid, "aaa1111", 10.0)

    first.kill()
    first.wait()  # died; the parent restarts it (on the code now on disk)
    procs.append(second := subprocess.Popen(SLEEPER))
    worker.proc = second
    status = merged(tmp_path, worker, 101.0)
    info = status["bot"]["workers"][0]
    assert info["pid"] == second.pid
    assert (info["version"], info["process_started_at"]) == (None, None), info
    assert "version" not in worker_lines(status)[0]
    assert status["accounts"]["alpha"]["worker_alive"] is False  # its last snapshot, still shown
