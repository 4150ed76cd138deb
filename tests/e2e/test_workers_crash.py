"""`run --workers 2` as real processes: an unexpected exception in a worker that had finished
starting (bot.py exit code 2, as for a startup error) is a crash like kill -9: the parent
restarts that worker with the backoff and the other worker's accounts keep running. A worker
whose startup fails (exit 2 before it ever ran) still stops everything at once."""

from __future__ import annotations

import contextlib
import math
import os
import signal
import time
from pathlib import Path

import pytest

from tests.e2e.bot_process import start_bot, wait_status
from tests.e2e.test_workers import PLAN, all_running, write_accounts_config

pytestmark = pytest.mark.slow

RAISE_ON_SIGUSR1 = '''\
"""Test fault: SIGUSR1 raises in a bot.py worker's main thread, as a bug there would."""
import signal
import sys

if "worker" in sys.argv:
    def _bug(signum, frame):
        raise RuntimeError("injected bug in the run loop")

    signal.signal(signal.SIGUSR1, _bug)
    # the test sends the signal again every 2 s until the worker is gone: one landing while the
    # interpreter finalizes (Python puts the default handler back then) killed the worker with
    # -10 instead of its exit code 2 (CI under load, once). Ignored from atexit on, as the
    # interpreter keeps an ignored signal ignored.
    import atexit
    atexit.register(signal.signal, signal.SIGUSR1, signal.SIG_IGN)
'''


def fault_env(tmp_path: Path) -> dict[str, str]:
    """The environment with a sitecustomize that installs the fault in worker processes."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(RAISE_ON_SIGUSR1)
    path = os.pathsep.join(p for p in (str(site), os.environ.get("PYTHONPATH", "")) if p)
    return {**os.environ, "PYTHONPATH": path}


def test_a_worker_that_raises_after_startup_is_restarted_a_startup_error_still_stops_all(
    tmp_path,
):
    config = write_accounts_config(tmp_path / "bot.toml", "backoff_initial_s = 0.2\n")
    data = tmp_path / "data"
    proc = start_bot(config, data, "--workers", "2", "--duration", "300", env=fault_env(tmp_path))
    try:
        s = wait_status(config, data, all_running, timeout=90, message="both workers running")
        before = {w["index"]: w["pid"] for w in s["bot"]["workers"]}
        sent = [-math.inf]

        def crashed_and_restarted(s) -> bool:  # noqa: ANN001
            # the exception lands wherever the main thread is: inside a guarded step of the
            # run loop it is logged and the loop goes on, so the bug is raised again until it
            # reaches the loop itself
            if s["bot"]["workers"][0]["pid"] == before[1]:
                if time.monotonic() - sent[0] > 2.0:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(before[1], signal.SIGUSR1)
                    sent[0] = time.monotonic()
                return False
            return all_running(s)

        s = wait_status(config, data, crashed_and_restarted, timeout=90,
                        message="worker 1 restarted after its crash")
        restarted = s["bot"]["workers"][0]
        assert restarted["restarts"] == 1 and restarted["last_exit"] == 2
        assert s["bot"]["workers"][1]["pid"] == before[2]  # the other worker untouched
        assert all(s["accounts"][n]["worker_alive"] for names in PLAN.values() for n in names)
        assert proc.poll() is None
        log = (data / "logs" / "bot.log").read_text()
        assert "worker 1 (pid" in log and "exited with code 2 (why: logs/worker-1.log); " \
            "restarting in" in log
        assert "startup error" not in log
        # the worker's own log says why (its traceback is not the parent's bot.log, 9a45d99)
        assert "injected bug in the run loop" in (data / "logs" / "worker-1.log").read_text()
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=90)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err[-2000:]

    # beta's paper store unreadable: worker 2 exits 2 before its first pass, no restart
    store = data / "accounts" / "beta" / "paper_exchange.sqlite"
    assert store.exists()
    store.write_bytes(b"this is not an SQLite file at all" * 100)
    proc = start_bot(config, data, "--workers", "2", "--duration", "300")
    try:
        _, err = proc.communicate(timeout=90)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 1, err[-2000:]
    assert err.strip().splitlines()[-1] == (
        "bot.py: error: worker 2 exited with code 2 (startup error)")
    assert "worker 2 started" in (log := (data / "logs" / "bot.log").read_text())
    assert log.count("worker 2 started") == 2  # one per run: never restarted
