"""`run --workers` at its edges, as real processes: more workers than accounts is clamped with a
log line; a worker that keeps dying past `[supervision]` max_restarts within restart_period_s
makes the parent alert, stop every worker and exit 1 with one line; a bad --workers value is one
line and exit 2; a second bot on the data dir is refused by the parent's lock."""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path

import pytest

from observability.log_streams import safe_name
from runtime.workers import plan_workers
from supervision.instance_lock import is_locked
from tests.e2e.bot_process import cli, start_bot, wait_status
from tests.e2e.test_workers import ACCOUNTS, all_running, write_accounts_config
from tests.support.waiting import wait_until

pytestmark = pytest.mark.slow


def test_accounts_are_dealt_round_robin_each_wholly_in_one_worker():
    names = ("a", "b", "c", "d", "e")
    assert plan_workers(names, 2) == [("a", "c", "e"), ("b", "d")]
    assert plan_workers(names, 5) == [("a",), ("b",), ("c",), ("d",), ("e",)]
    assert plan_workers(names, 1) == [names]


def test_workers_zero_is_one_line_and_exit_2(tmp_path):
    config = write_accounts_config(tmp_path / "bot.toml")
    r = cli(config, tmp_path / "data", "run", "--workers", "0")
    assert r.returncode == 2
    assert r.stderr.strip() == "bot.py: error: --workers: must be a whole number >= 1 (got 0)"


def test_clamped_workers_and_intensity_exceeded_stop_everything_with_an_alert(tmp_path):
    alerts = tmp_path / "alerts.jsonl"
    hook = tmp_path / "alert.py"
    hook.write_text(f"import sys\nopen({str(alerts)!r}, 'a').write(sys.stdin.read() + '\\n')\n")
    config = write_accounts_config(
        tmp_path / "bot.toml",
        "max_restarts = 1\nrestart_period_s = 120.0\nbackoff_initial_s = 0.2\n"
        f'alert_command = "{sys.executable} {hook}"\n',
    )
    data = tmp_path / "data"
    proc = start_bot(config, data, "--workers", "5", "--duration", "300")
    try:
        s = wait_status(config, data, all_running, timeout=90, message="three workers running")
        assert [w["accounts"] for w in s["bot"]["workers"]] == [[n] for n in ACCOUNTS]
        second = cli(config, data, "run", "--workers", "2", "--duration", "5")
        assert second.returncode == 3 and f"PID {proc.pid}" in second.stderr

        first = s["bot"]["workers"][0]["pid"]
        os.kill(first, signal.SIGKILL)  # restart 1 of at most 1
        s = wait_status(config, data, lambda s: s["bot"]["workers"][0]["pid"] != first
                        and all_running(s), timeout=90, message="worker 1 restarted")
        os.kill(s["bot"]["workers"][0]["pid"], signal.SIGKILL)  # one more: past the intensity
        _, err = proc.communicate(timeout=90)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 1
    assert err.strip().splitlines()[-1] == (
        "bot.py: error: worker 1 (accounts alpha) died more than 1 times within 120 s "
        "(last exit code -9); stopping every worker"
    )
    bot_log = (data / "logs" / "bot.log").read_text()
    assert "--workers 5: only 3 account(s) configured, running 3 worker(s)" in bot_log
    assert "ALERT worker_escalation" in bot_log and "bot stopped" in bot_log.splitlines()[-1]
    payload = json.loads(wait_until(lambda: alerts.exists() and alerts.read_text().strip(),
                                    timeout=10, message="the alert hook ran"))
    assert payload["kind"] == "worker_escalation" and payload["worker"] == 1
    for index, name in ((2, "beta"), (3, "gamma")):  # the healthy workers stopped gracefully
        last = (data / "logs" / f"worker-{index}.log").read_text().splitlines()[-1]
        assert "bot stopped" in last, (name, last)
        for sym in ACCOUNTS[name]:
            path = data / "logs" / name / f"{safe_name(sym)}.log"
            assert "stopped (phase" in path.read_text().splitlines()[-1], path
    assert not is_locked(data / "bot.lock")


def test_a_parent_killed_by_sigkill_leaves_no_worker_trading_and_the_next_start_works(tmp_path):
    config = write_accounts_config(tmp_path / "bot.toml")
    data = tmp_path / "data"
    proc = start_bot(config, data, "--workers", "2", "--duration", "300")
    try:
        s = wait_status(config, data, all_running, timeout=90, message="both workers running")
        pids = [w["pid"] for w in s["bot"]["workers"]]
        proc.kill()
        proc.communicate(timeout=30)
        for pid in pids:  # orphans see their parent gone and stop gracefully
            wait_until(lambda p=pid: not Path(f"/proc/{p}").exists()
                       or "Z" in Path(f"/proc/{p}/stat").read_text().split()[2],
                       timeout=30, message=f"worker {pid} stopped")
        for index in (1, 2):
            text = (data / "logs" / f"worker-{index}.log").read_text()
            assert f"parent process {proc.pid} is gone; worker {index} stops" in text
            assert "bot stopped" in text.splitlines()[-1]
    finally:
        if proc.poll() is None:
            proc.kill()
    again = start_bot(config, data, "--workers", "2", "--duration", "300")
    try:
        s = wait_status(config, data, lambda s: all_running(s) and s["bot"]["pid"] == again.pid,
                        timeout=90, message="the next start running both workers")
        again.send_signal(signal.SIGTERM)
        _, err = again.communicate(timeout=90)
    finally:
        if again.poll() is None:
            again.kill()
    assert again.returncode == 0, err[-2000:]
