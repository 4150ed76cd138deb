"""A control refused because the page's login session ended brings the login form back (real
dashboard server on 127.0.0.1 with its clock injected through Auth, headless chromium).

Found by review: on loopback the page stays live after its session ends (12 h after the login,
or at once when the bot restarts: sessions live in its memory), still saying "controls enabled"
with the login form hidden; a press of "trip kill switch" answered "refused: missing or bad
token" and the page offered no way to log in again short of a reload."""

from __future__ import annotations

import time

import pytest
from loguru import logger

from dashboard.auth import SESSION_TTL_S, Auth
from dashboard.server import DashboardServer
from dashboard.source import DashboardSource
from supervision.status import write_status
from tests.dashboard.test_browser import chromium  # noqa: F401  (the fixture)
from tests.dashboard.test_page_warnings import (
    HEALTHY,
    World,
    actor,
    browser_page,
    open_page,
    status,
)
from tests.dashboard.test_server import TOKEN

pytestmark = pytest.mark.slow


def test_a_control_refused_for_an_ended_session_shows_the_login_form(tmp_path,
                                                                      chromium):  # noqa: F811
    from playwright.sync_api import expect

    world = World(now=time.time())
    write_status(tmp_path, status(beat=time.time(), actors=[actor("ETH/USDT:USDT")],
                                  health=HEALTHY))
    server = DashboardServer(
        source=DashboardSource(data_dir=tmp_path, accounts=[], running=lambda: True),
        auth=Auth(token=TOKEN, host="127.0.0.1", clock=lambda: world.now), logger=logger,
        push_interval_s=0.1)
    server.start()
    try:
        with browser_page(chromium) as page:
            open_page(page, server)
            page.fill("#token", TOKEN)
            page.click("#login-btn")
            expect(page.locator("#auth-state")).to_have_text("controls enabled", timeout=10_000)
            expect(page.locator("#login-form")).to_be_hidden()
            world.now += SESSION_TTL_S + 1  # the session expired (or the bot restarted)
            page.click('button[data-action="kill_switch"]')
            expect(page.locator("#message")).to_contain_text("kill_switch refused",
                                                             timeout=10_000)
            expect(page.locator("#login-form")).to_be_visible(timeout=10_000)
            expect(page.locator("#auth-state")).to_have_text("read-only (log in for controls)")
    finally:
        server.stop()
