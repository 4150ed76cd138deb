"""`run --workers`: the parent merges each worker's `status.worker-<k>.json` every round
(runtime/workers_status.py). A file nested deeper than json's parser goes raised RecursionError,
and one whose `bot` (or an account's entry) is not an object raised AttributeError/TypeError,
out of the merge: the parent's supervision loop ended and every worker was stopped. Now such a
file is not believed, with one warning naming it per problem, and the worker's accounts keep
their last snapshot. Real child processes stand in for the workers."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from runtime.workers_role import worker_status_name
from runtime.workers_status import Worker, merge_status

DEEP = "[" * (sys.getrecursionlimit() * 20) + "]" * (sys.getrecursionlimit() * 20)


@pytest.fixture
def worker():
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    yield Worker(index=1, accounts=("alpha",), proc=proc)
    proc.kill()
    proc.wait()


def entry(open_: int) -> dict:
    return {"exchange": "paper", "kill_switch": False, "escalations": [],
            "health": {"open_positions": open_, "protected_positions": open_},
            "actors": [{"symbol": "BTC/USDT:USDT", "state": "running"}]}


def merged(data: Path, w: Worker, now: float) -> dict:
    bot = {"pid": 1, "running": True, "accounts": ["alpha"], "workers": [w.info()]}
    return merge_status(data, bot, [w], now, grouped=True, mono=now)


def said(lines: list[str], path: Path) -> list[str]:
    return [line for line in lines if str(path) in line]


@pytest.mark.parametrize(("text", "problem"), [
    (DEEP, "nested too deep"),
    ('{"bot": [1], "accounts": {}}', "'bot' is not an object"),
    ('{"bot": "x"}', "'bot' is not an object"),
    ("[1, 2]", "'bot' is not an object"),
    ("{not json", "not readable"),
])
def test_an_unreadable_worker_snapshot_is_one_line_and_the_last_one_stays(
        tmp_path, worker, lines, text, problem):
    path = tmp_path / worker_status_name(1)
    path.write_text(json.dumps({"bot": {"pid": worker.pid, "heartbeat_at": 1.0},
                                "accounts": {"alpha": entry(1)}}))
    assert merged(tmp_path, worker, 100.0)["accounts"]["alpha"]["worker_alive"] is True
    path.write_text(text)
    for now in (101.0, 102.0):
        status = merged(tmp_path, worker, now)
        alpha = status["accounts"]["alpha"]
        assert alpha["health"]["open_positions"] == 1 and alpha["worker_alive"] is False
    [line] = said(lines, path)
    assert problem in line and "\n" not in line.strip(), line
    path.write_text(json.dumps({"bot": {"pid": worker.pid, "heartbeat_at": 2.0},
                                "accounts": {"alpha": entry(2)}}))
    alpha = merged(tmp_path, worker, 103.0)["accounts"]["alpha"]
    assert alpha["health"]["open_positions"] == 2 and alpha["worker_alive"] is True


@pytest.mark.parametrize(("accounts", "problem"), [
    ([1], "'accounts' is not an object"),
    ({"alpha": "up"}, "account 'alpha' is not an account's status"),
    ({"alpha": {**entry(1), "health": {"open_positions": "1", "protected_positions": 1}}},
     "account 'alpha' is not an account's status"),
    ({"alpha": {**entry(1), "actors": [["BTC"]]}}, "account 'alpha': 'actors'"),
    ({"alpha": {**entry(1), "escalations": None}}, "account 'alpha': 'escalations'"),
])
def test_a_snapshot_the_merge_cannot_read_is_not_believed(tmp_path, worker, lines, accounts,
                                                          problem):
    path = tmp_path / worker_status_name(1)
    path.write_text(json.dumps({"bot": {"pid": worker.pid, "heartbeat_at": 1.0},
                                "accounts": accounts}))
    status = merged(tmp_path, worker, 100.0)
    assert status["accounts"] == {}
    [line] = said(lines, path)
    assert problem in line, line
