"""An actor's last failure on the page says when it happened (real dashboard server on
127.0.0.1 reading a status file, headless chromium).

Found by review: `actors[].last_failure` stays in the status after the actor was restarted and
runs again (the table prints it `... at <time>`), but the page's actors table showed only its
error in the note column: a symbol running fine for hours read as failing now."""

from __future__ import annotations

import time

import pytest

from dashboard.source import DashboardSource
from supervision.status import write_status
from tests.dashboard.test_browser import chromium  # noqa: F401  (the fixture)
from tests.dashboard.test_page_warnings import HEALTHY, actor, browser_page, open_page, serve
from tests.dashboard.test_page_warnings import status as status_doc

pytestmark = pytest.mark.slow


def test_a_running_actors_last_failure_is_dated(tmp_path, chromium):  # noqa: F811
    from playwright.sync_api import expect

    recovered = {**actor("BTC/USDT:USDT"), "restarts": 1,
                 "last_failure": {"time": 1.0, "where": "handler",
                                  "error": "RuntimeError: boom"}}
    write_status(tmp_path, status_doc(beat=time.time(), actors=[recovered], health=HEALTHY))
    server = serve(tmp_path, DashboardSource(data_dir=tmp_path, accounts=[],
                                             running=lambda: True))
    try:
        with browser_page(chromium) as page:
            open_page(page, server)
            row = page.locator('tr[data-actor="BTC/USDT:USDT"]')
            expect(row).to_contain_text("RuntimeError: boom", timeout=10_000)
            expect(row).to_contain_text(
                "last failure at 1970-01-01 00:00:01 (handler): RuntimeError: boom")
    finally:
        server.stop()
