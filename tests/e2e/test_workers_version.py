"""Incident 12 with `run --workers 2`: a worker restarted after a crash loads the code on disk,
which may be newer than the parent's. The status dump shows each worker's own version and
process start, and the status table says when a worker runs other code than the parent.
Real processes from a copy of this checkout committed in a new repository; the new code is
a new commit there."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.bot_process import _STARTED, ROOT
from tests.e2e.test_workers import all_running, write_accounts_config
from tests.support.waiting import wait_until

pytestmark = pytest.mark.slow


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), "-c", "user.name=t", "-c",
                           "user.email=t@example.invalid", *args], capture_output=True,
                          text=True, check=True, timeout=60).stdout.strip()


def copy_of_checkout(to: Path) -> Path:
    """This checkout's tracked files as they are now (uncommitted edits too), committed in a
    new repository: the code under test, with a history the test can add to."""
    listed = subprocess.run(["git", "-C", str(ROOT), "ls-files", "-z"], capture_output=True,
                            check=True, timeout=60).stdout.decode().split("\0")
    for name in filter(None, listed):
        source = ROOT / name
        if source.is_file():
            (to / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, to / name)
    git(to, "init", "-q")
    git(to, "add", "-A")
    git(to, "commit", "-q", "-m", "the code under test")
    return to


def run_cli(clone: Path, config: Path, data: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(clone / "bot.py"), *args, "--config", str(config),
                           "--data-dir", str(data)], cwd=clone, capture_output=True, text=True,
                          timeout=60)


def status_of(clone: Path, config: Path, data: Path) -> dict | None:
    result = run_cli(clone, config, data, "status", "--json")
    return json.loads(result.stdout) if result.returncode == 0 else None


def test_a_worker_restarted_on_newer_code_shows_its_own_version(tmp_path):
    clone = copy_of_checkout(tmp_path / "clone")
    old = git(clone, "rev-parse", "--short", "HEAD")
    config = write_accounts_config(tmp_path / "bot.toml", "backoff_initial_s = 0.2\n")
    data = tmp_path / "data"
    proc = subprocess.Popen([sys.executable, str(clone / "bot.py"), "run", "--config", str(config),
                             "--data-dir", str(data), "--workers", "2", "--duration", "300"],
                            cwd=clone, env={**os.environ, "PYTHONUNBUFFERED": "1"},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _STARTED.append(proc)
    try:
        s = wait_until(lambda: (lambda t: t if t and all_running(t) else None)(
            status_of(clone, config, data)), timeout=90, interval=0.3,
            message="both workers running")
        assert s["bot"]["version"] == old
        first = s["bot"]["workers"][0]
        assert [w["version"] for w in s["bot"]["workers"]] == [old, old]
        assert all(w["process_started_at"] >= s["bot"]["started_at"]
                   for w in s["bot"]["workers"])
        git(clone, "commit", "-q", "--allow-empty", "-m", "a fix, applied while it runs")
        new = git(clone, "rev-parse", "--short", "HEAD")
        os.kill(first["pid"], signal.SIGKILL)
        s = wait_until(lambda: (lambda t: t if t and all_running(t)
                                and t["bot"]["workers"][0]["pid"] != first["pid"] else None)(
            status_of(clone, config, data)), timeout=90, interval=0.3,
            message="worker 1 restarted")
        one, two = s["bot"]["workers"]
        assert (one["version"], two["version"], s["bot"]["version"]) == (new, old, old)
        assert one["process_started_at"] > first["process_started_at"]
        table = run_cli(clone, config, data, "status").stdout
        assert f"version {new} (NOT the parent's {old}: started on other code)" in table, table
        assert f"worker 2: alive  pid {two['pid']}" in table and "NOT" not in table.split(
            "worker 2:")[1]
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=90)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err[-2000:]
