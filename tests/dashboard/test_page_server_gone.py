"""The page when the dashboard stops answering (the bot stopped or restarting, the network
down): a control pressed says it was not sent, and the slower views say they are not current
(real dashboard server on 127.0.0.1, stopped under the page; headless chromium).

Found by review: the page's requests went through `fetch`, which rejects when nothing answers;
that rejection was not caught. A press of "trip kill switch" then showed nothing at all (no
"refused", no "queued"), which a person in a hurry reads as done; and the equity curve, the
recent trades and the journal kept their last content as if current."""

from __future__ import annotations

import time
from decimal import Decimal

import pytest

from dashboard.source import AccountHandle, DashboardSource
from supervision.status import write_status
from tests.dashboard.test_browser import chromium  # noqa: F401  (the fixture)
from tests.dashboard.test_page_view_errors import SYMBOL, FailingRepository
from tests.dashboard.test_page_warnings import HEALTHY, actor, browser_page, open_page, serve
from tests.dashboard.test_page_warnings import status as status_doc
from tests.dashboard.test_server import TOKEN

pytestmark = pytest.mark.slow


def test_a_control_pressed_while_the_dashboard_is_gone_says_it_was_not_sent(
        tmp_path, chromium):  # noqa: F811
    from playwright.sync_api import expect

    write_status(tmp_path, status_doc(beat=time.time(), actors=[actor(SYMBOL)], health=HEALTHY))
    source = DashboardSource(data_dir=tmp_path, running=lambda: True, accounts=[AccountHandle(
        name="main", symbols=(SYMBOL,), repo=FailingRepository(), capital=Decimal(10000),
        log_path=lambda s: tmp_path / "x.log")])
    server = serve(tmp_path, source)
    stopped = False
    try:
        with browser_page(chromium) as page:
            open_page(page, server)
            page.fill("#token", TOKEN)
            page.click("#login-btn")
            expect(page.locator("#auth-state")).to_have_text("controls enabled", timeout=10_000)
            chart, trades = page.locator(".equity"), page.locator(".trades")
            expect(chart).to_contain_text("2 points", timeout=10_000)
            expect(page.locator("#journal tr.event")).to_have_count(1, timeout=10_000)

            server.stop()  # the bot stopped: nothing answers on the port any more
            stopped = True
            page.click('button[data-action="kill_switch"]')
            message = page.locator("#message")
            expect(message).to_contain_text("kill_switch refused", timeout=10_000)
            expect(message).to_contain_text("did not answer")
            expect(message).to_have_class("bad")
            expect(page.locator("#auth-state")).to_have_text("controls enabled")
            reason = "not current: the dashboard did not answer"
            expect(chart).to_contain_text(reason, timeout=15_000)
            expect(trades).to_contain_text(reason)
            expect(page.locator("#journal tbody")).to_contain_text(reason, timeout=15_000)
    finally:
        if not stopped:
            server.stop()
