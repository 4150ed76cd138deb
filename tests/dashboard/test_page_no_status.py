"""A page with no status to show says so in red (real dashboard server on 127.0.0.1 reading the
data dir, headless chromium).

Found by review: while `status.json` could not be read (a damaged disk, a hand edit) the live
stream sent nothing, so the page went on showing its last status under a green "live" pill,
the heartbeat age frozen at its last value and no staleness warning ever; on the data dir of a
bot that never ran it read "connecting" / "loading..." for ever."""

from __future__ import annotations

import time

import pytest

from dashboard.source import DashboardSource
from supervision.status import STATUS_FILE, write_status
from tests.dashboard.test_browser import chromium  # noqa: F401  (the fixture)
from tests.dashboard.test_page_warnings import HEALTHY, actor, browser_page, serve, status

pytestmark = pytest.mark.slow


def test_no_status_and_an_unreadable_one_are_a_red_line_not_the_last_status_as_live(
        tmp_path, chromium):  # noqa: F811
    from playwright.sync_api import expect

    server = serve(tmp_path, DashboardSource(data_dir=tmp_path, accounts=[],
                                             running=lambda: False))
    try:
        with browser_page(chromium) as page:
            page.goto(server.url)
            conn, missing = page.locator("#conn"), page.locator('[data-testid="no-status"]')
            expect(missing).to_have_text(
                "NO STATUS: no status yet (the bot has not written status.json)", timeout=15_000)
            expect(conn).to_have_text("no status")
            expect(conn).to_have_class("pill bad")
            write_status(tmp_path, status(beat=time.time(), actors=[actor("ETH/USDT:USDT")],
                                          health=HEALTHY))
            expect(conn).to_have_text("live", timeout=10_000)
            expect(missing).to_have_count(0)
            (tmp_path / STATUS_FILE).write_text('{"bot": {"pid": 7, ')  # damaged
            expect(missing).to_contain_text("cannot read the status (not valid JSON",
                                            timeout=10_000)
            expect(missing).to_contain_text("what follows is the last status read")
            expect(conn).to_have_text("no status")
    finally:
        server.stop()
