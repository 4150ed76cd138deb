"""With `--workers`, an account whose worker never wrote its snapshot is a red line on the page
(real worker processes, the parent's own merge of their snapshots, real dashboard server on
127.0.0.1, headless chromium).

Found by review: such an account (its worker died at start, or hangs before its first snapshot)
is in no account of the merged status, only in `bot.accounts`; the page showed the other
accounts all green and nothing of it, and before any worker had reported it drew the empty
merge as an all-green "Account main" with "stops 0/0"."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dashboard.source import DashboardSource
from runtime.workers_role import worker_status_name
from runtime.workers_status import Worker, merge_status
from supervision.status import write_status
from tests.dashboard.test_browser import chromium  # noqa: F401  (the fixture)
from tests.dashboard.test_page_warnings import HEALTHY, actor, browser_page, open_page, serve

pytestmark = pytest.mark.slow


@pytest.fixture
def workers() -> Iterator[list[Worker]]:
    """Worker 1 alive (a real process), worker 2 exited with code 3 before any snapshot."""
    alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    dead = subprocess.Popen([sys.executable, "-c", "raise SystemExit(3)"])
    dead.wait(timeout=30)
    try:
        yield [Worker(index=1, accounts=("alpha",), proc=alive),
               Worker(index=2, accounts=("beta",), proc=dead, last_exit=3)]
    finally:
        alive.kill()
        alive.wait(timeout=30)


def merged(data: Path, workers: list[Worker]) -> None:
    """status.json as the parent writes it (runtime/workers.py _write_status)."""
    bot: dict[str, Any] = {"pid": 7, "running": True, "mode": "paper", "version": "v",
                           "accounts": ["alpha", "beta"], "workers": [w.info() for w in workers]}
    write_status(data, merge_status(data, bot, workers, time.time(), grouped=True))


def worker_snapshot(data: Path, worker: Worker, account: str) -> None:
    entry = {"exchange": "paper", "actors": [actor("ETH/USDT:USDT")], "health": HEALTHY,
             "escalations": [], "kill_switch": False}
    snapshot = {"bot": {"pid": worker.pid, "heartbeat_at": time.time()},
                "accounts": {account: entry}}
    (data / worker_status_name(worker.index)).write_text(json.dumps(snapshot))


def test_an_account_without_a_snapshot_is_a_red_line(tmp_path, workers,
                                                     chromium):  # noqa: F811
    from playwright.sync_api import expect

    merged(tmp_path, workers)  # neither worker has written its snapshot
    server = serve(tmp_path, DashboardSource(data_dir=tmp_path, accounts=[],
                                             running=lambda: True))
    try:
        with browser_page(chromium) as page:
            open_page(page, server)
            missing = page.locator('[data-testid="account-missing"]')
            expect(missing).to_have_count(2, timeout=10_000)
            expect(missing.nth(0)).to_contain_text(
                "ACCOUNT alpha: NO STATUS (worker 1 has not reported it yet)")
            expect(missing.nth(1)).to_contain_text(
                "ACCOUNT beta: NO STATUS (worker 2 NOT ALIVE, last exit 3)")
            expect(page.locator("section.card[data-account]")).to_have_count(0)
            worker_snapshot(tmp_path, workers[0], "alpha")
            merged(tmp_path, workers)
            expect(page.locator('section.card[data-account="alpha"]')).to_have_count(
                1, timeout=10_000)
            expect(missing).to_have_count(1)
            expect(missing).to_contain_text("ACCOUNT beta: NO STATUS")
    finally:
        server.stop()
