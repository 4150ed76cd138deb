"""The parent's merge of its workers' snapshots (runtime/workers_status.py), with real child
processes standing in for workers: a snapshot counts only when its writer is the worker's
current process; a dead worker's accounts keep their last snapshot, marked not alive; a snapshot
whose heartbeat stops changing turns stale."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from runtime.workers import Worker
from runtime.workers_role import worker_status_name
from runtime.workers_status import merge_status, settle_liveness, worker_lines


def account_entry(symbol: str, open_: bool) -> dict:
    return {
        "exchange": "paper", "kill_switch": False, "escalations": [],
        "health": {"open_positions": int(open_), "protected_positions": int(open_),
                   "ts_coverage": 1.0},
        "actors": [{"symbol": symbol, "state": "running", "position": {} if open_ else None}],
    }


def snapshot(pid: int, accounts: dict, heartbeat_at: float = 100.0) -> dict:
    return {"bot": {"pid": pid, "heartbeat_at": heartbeat_at}, "accounts": accounts}


def write(data: Path, index: int, status: dict) -> None:
    (data / worker_status_name(index)).write_text(json.dumps(status))


@pytest.fixture
def procs():
    started: list[subprocess.Popen] = []

    def start() -> subprocess.Popen:
        p = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
        started.append(p)
        return p

    yield start
    for p in started:
        p.kill()
        p.wait()


def bot(workers: list[Worker]) -> dict:
    return {"pid": 1, "running": True, "accounts": ["alpha", "beta", "gamma"],
            "workers": [w.info() for w in workers]}


def test_fresh_snapshots_merge_in_config_order_with_each_accounts_worker(tmp_path, procs):
    w1 = Worker(index=1, accounts=("alpha", "gamma"), proc=procs())
    w2 = Worker(index=2, accounts=("beta",), proc=procs())
    write(tmp_path, 1, snapshot(w1.pid, {"gamma": account_entry("B", False),
                                         "alpha": account_entry("A", True)}))
    write(tmp_path, 2, snapshot(w2.pid, {"beta": account_entry("C", True)}))
    s = merge_status(tmp_path, bot([w1, w2]), [w1, w2], 200.0, grouped=True)
    assert list(s["accounts"]) == ["alpha", "beta", "gamma"]
    assert [(a["account"], a["symbol"]) for a in s["actors"]] == [
        ("alpha", "A"), ("beta", "C"), ("gamma", "B")]
    assert s["health"]["open_positions"] == 2 and s["health"]["protected_positions"] == 2
    assert {n: (e["worker"], e["worker_alive"]) for n, e in s["accounts"].items()} == {
        "alpha": (1, True), "beta": (2, True), "gamma": (1, True)}
    assert all(w["snapshot_current"] for w in s["bot"]["workers"])


def test_a_dead_workers_accounts_keep_their_last_snapshot_marked_not_alive(tmp_path, procs):
    w1 = Worker(index=1, accounts=("alpha",), proc=procs())
    write(tmp_path, 1, snapshot(w1.pid, {"alpha": account_entry("A", True)}))
    merge_status(tmp_path, bot([w1]), [w1], 200.0, grouped=True)
    old = w1.proc
    assert old is not None
    old.kill()
    old.wait()
    w1.proc = procs()  # the restarted worker has not written yet; the old file is stale
    s = merge_status(tmp_path, bot([w1]), [w1], 201.0, grouped=True)
    assert s["accounts"]["alpha"]["worker_alive"] is False
    assert s["accounts"]["alpha"]["health"]["open_positions"] == 1  # not vanished
    assert s["bot"]["workers"][0]["snapshot_current"] is False
    write(tmp_path, 1, snapshot(w1.pid, {"alpha": account_entry("A", False)}))
    s = merge_status(tmp_path, bot([w1]), [w1], 202.0, grouped=True)
    assert s["accounts"]["alpha"]["worker_alive"] is True
    assert s["accounts"]["alpha"]["health"]["open_positions"] == 0


def test_a_worker_that_never_wrote_and_an_unreadable_file_show_no_accounts(tmp_path, procs):
    w1 = Worker(index=1, accounts=("alpha",), proc=procs())
    (tmp_path / worker_status_name(1)).write_text("{not json")
    s = merge_status(tmp_path, bot([w1]), [w1], 200.0, grouped=True)
    assert s["accounts"] == {} and s["actors"] == []
    assert s["bot"]["workers"][0]["alive"] is True


def test_status_after_the_parent_is_gone_marks_every_worker_down(tmp_path, procs):
    w1 = Worker(index=1, accounts=("alpha",), proc=procs(), restarts=2, last_exit=-9)
    write(tmp_path, 1, snapshot(w1.pid, {"alpha": account_entry("A", False)}))
    s = merge_status(tmp_path, bot([w1]), [w1], 200.0, grouped=True)
    assert worker_lines(s) == [
        f"worker 1: alive  pid {w1.pid}  accounts alpha  restarts 2  last exit -9"]
    settle_liveness(s, running=False)
    assert worker_lines(s)[0].startswith("worker 1: down")
    assert s["accounts"]["alpha"]["worker_alive"] is False


def test_a_snapshot_whose_heartbeat_stops_changing_turns_stale_with_its_age(tmp_path, procs):
    w1 = Worker(index=1, accounts=("alpha",), proc=procs())
    entry = account_entry("A", True)
    entry["actors"][0]["last_tick_age_s"] = 0.5
    write(tmp_path, 1, snapshot(w1.pid, {"alpha": entry}, heartbeat_at=200.0))
    s = merge_status(tmp_path, bot([w1]), [w1], 200.0, grouped=True, mono=10.0,
                     stale_after_s=2.0)
    assert s["accounts"]["alpha"]["worker_alive"] is True
    assert s["bot"]["workers"][0]["snapshot_current"] and not s["bot"]["workers"][0]["stale"]
    # the worker (stopped, hung) writes nothing more: the same file 3 s later is stale
    s = merge_status(tmp_path, bot([w1]), [w1], 203.0, grouped=True, mono=13.0,
                     stale_after_s=2.0)
    info = s["bot"]["workers"][0]
    assert info["alive"] and info["stale"] and not info["snapshot_current"]
    assert info["snapshot_age_s"] == 3.0 and info["heartbeat_at"] == 200.0
    alpha = s["accounts"]["alpha"]
    assert alpha["worker_alive"] is False and alpha["snapshot_age_s"] == 3.0
    assert alpha["actors"][0]["last_tick_age_s"] == 3.5  # as of now, not of the snapshot
    assert worker_lines(s) == [
        f"worker 1: stale (no status for 3.0 s)  pid {w1.pid}  accounts alpha  restarts 0"]
    write(tmp_path, 1, snapshot(w1.pid, {"alpha": entry}, heartbeat_at=203.5))
    s = merge_status(tmp_path, bot([w1]), [w1], 203.5, grouped=True, mono=13.5,
                     stale_after_s=2.0)
    assert s["accounts"]["alpha"]["worker_alive"] is True and not s["bot"]["workers"][0]["stale"]


def test_the_status_after_the_workers_stopped_holds_their_final_snapshots(tmp_path, procs):
    """A worker's last snapshot is written after its actors stopped, with the fills booked while
    they finished (runtime/runner.py: the final status). The parent writes its final status.json
    after every worker exited; it kept the snapshot it read on its last pass instead (found by
    review: a trade closed during the stop was missing from `bot.py status`, as the one-process
    bot's was before tests/e2e/test_final_status_pnl.py)."""
    final = {"alpha": {**account_entry("A", False), "pnl": {"gross_realized": "12.5"}}}
    code = ("import json, os, sys; sys.stdin.readline(); "
            "open(sys.argv[1], 'w').write(json.dumps({'bot': {'pid': os.getpid(), "
            "'heartbeat_at': 300.0, 'running': False}, 'accounts': json.loads(sys.argv[2])}))")
    worker = subprocess.Popen([sys.executable, "-c", code, str(tmp_path / worker_status_name(1)),
                               json.dumps(final)], stdin=subprocess.PIPE)
    try:
        w1 = Worker(index=1, accounts=("alpha",), proc=worker)
        write(tmp_path, 1, snapshot(worker.pid, {"alpha": account_entry("A", True)}))
        s = merge_status(tmp_path, bot([w1]), [w1], 200.0, grouped=True)
        assert s["accounts"]["alpha"]["health"]["open_positions"] == 1
        assert worker.stdin is not None
        worker.stdin.write(b"stop\n")  # the parent's SIGTERM: the worker writes its last, exits
        worker.stdin.close()
        assert worker.wait(timeout=30) == 0
        s = merge_status(tmp_path, bot([w1]), [w1], 301.0, grouped=True)
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
    alpha = s["accounts"]["alpha"]
    assert alpha["health"]["open_positions"] == 0 and alpha["pnl"] == {"gross_realized": "12.5"}
    assert alpha["worker_alive"] is False  # its process is gone: never shown as live
    assert s["bot"]["workers"][0]["heartbeat_at"] == 300.0
    assert not s["bot"]["workers"][0]["snapshot_current"]


def test_the_table_marks_the_accounts_of_a_dead_or_stale_worker(tmp_path, procs):
    """`bot.py status` (the table) showed a dead worker's accounts like live ones: their actors
    `running`, their positions as of the last snapshot, and only a `worker 2: down` line under
    the table (found by review; the dashboard has warned per account since it merged). Each
    such account's section now says so, with the age of its figures."""
    from supervision.status import render_table

    w1 = Worker(index=1, accounts=("alpha",), proc=procs())
    w2 = Worker(index=2, accounts=("beta",), proc=procs())
    write(tmp_path, 1, snapshot(w1.pid, {"alpha": account_entry("A", True)}))
    write(tmp_path, 2, snapshot(w2.pid, {"beta": account_entry("C", True)}))
    merge_status(tmp_path, bot([w1, w2]), [w1, w2], 200.0, grouped=True)
    assert w2.proc is not None
    w2.proc.kill()
    w2.proc.wait()
    s = merge_status(tmp_path, bot([w1, w2]), [w1, w2], 201.0, grouped=True)
    table = render_table(s)
    beta_at = table.index("== account beta")
    assert "NOT ALIVE" not in table[:beta_at]  # alpha's worker runs
    assert "WORKER 2 NOT ALIVE" in table[beta_at:].splitlines()[0]
    assert "figures as of" in table[beta_at:].splitlines()[0]


def test_the_table_names_an_account_without_figures(tmp_path, procs):
    """An account with no snapshot yet (its worker has not written one, or its status failed)
    is in no section and in none of the totals; the table listed only the others, under an
    'all accounts: 2' line that counted it, and said nothing of it (found by review)."""
    from supervision.status import render_table

    w1 = Worker(index=1, accounts=("alpha", "gamma"), proc=procs())
    w2 = Worker(index=2, accounts=("beta",), proc=procs())
    write(tmp_path, 1, snapshot(w1.pid, {"alpha": account_entry("A", True),
                                         "gamma": account_entry("B", False)}))
    s = merge_status(tmp_path, bot([w1, w2]), [w1, w2], 200.0, grouped=True)
    assert sorted(s["accounts"]) == ["alpha", "gamma"]
    table = render_table(s)
    [line] = [ln for ln in table.splitlines() if "account beta" in ln]
    assert "NO FIGURES" in line and "not counted" in line
    assert "account beta" not in render_table(s, "alpha")


def test_a_worker_not_started_reads_no_snapshot(tmp_path):
    """A worker whose first start was refused has no process: no file in the data dir is its."""
    w1 = Worker(index=1, accounts=("alpha",))
    write(tmp_path, 1, {"bot": {"heartbeat_at": 1.0},
                        "accounts": {"alpha": account_entry("A", True)}})
    s = merge_status(tmp_path, bot([w1]), [w1], 200.0, grouped=True)
    assert s["accounts"] == {}


def test_an_account_whose_worker_has_not_reported_yet_is_named_as_such(tmp_path, procs):
    """`status --account beta` while beta's worker had not written its first snapshot said
    "no account 'beta' in the status (accounts: alpha)", as for a name nobody configured."""
    from runtime.status_cli import show_status

    w1 = Worker(index=1, accounts=("alpha", "gamma"), proc=procs())
    w2 = Worker(index=2, accounts=("beta",), proc=procs())
    write(tmp_path, 1, snapshot(w1.pid, {"alpha": account_entry("A", False),
                                         "gamma": account_entry("B", False)}))
    status = merge_status(tmp_path, bot([w1, w2]), [w1, w2], 200.0, grouped=True)
    (tmp_path / "status.json").write_text(json.dumps(status))
    assert show_status(tmp_path, False, "beta") == (
        "--account: account 'beta' has not reported yet (its worker process has not written "
        "its first status; try again in a moment)")
    assert show_status(tmp_path, True, "nobody") == (
        "--account: no account 'nobody' in the status (accounts: alpha, gamma)")


def test_a_stale_workers_stream_message_age_is_counted_to_now(tmp_path, procs):
    """A hung worker's last snapshot said `last message 0.1 s ago` for its streams for as long
    as it was shown, in the table's green streams line, though its actors' tick ages were
    counted to now (found by review)."""
    w1 = Worker(index=1, accounts=("alpha",), proc=procs())
    entry = account_entry("A", True)
    entry["streams"] = {"mode": "stream", "connected": True, "last_message_age_s": 0.1,
                        "reconnects": 0, "last_error": ""}
    write(tmp_path, 1, snapshot(w1.pid, {"alpha": entry}, heartbeat_at=200.0))
    merge_status(tmp_path, bot([w1]), [w1], 200.0, grouped=True, mono=10.0, stale_after_s=2.0)
    s = merge_status(tmp_path, bot([w1]), [w1], 260.0, grouped=True, mono=70.0,
                     stale_after_s=2.0)
    alpha = s["accounts"]["alpha"]
    assert alpha["worker_alive"] is False and alpha["snapshot_age_s"] == 60.0
    assert alpha["streams"]["last_message_age_s"] == 60.1, alpha["streams"]
    s = merge_status(tmp_path, bot([w1]), [w1], 270.0, grouped=True, mono=80.0,
                     stale_after_s=2.0)  # counted from the snapshot's own age each time
    assert s["accounts"]["alpha"]["streams"]["last_message_age_s"] == 70.1
