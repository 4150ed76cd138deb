"""A real browser (Debian's headless chromium, driven by Playwright) on a dashboard whose every
view needs a login (told it serves beyond loopback). When the session ends (logout here; expiry
the same) the server ends the live feed (e4b141d) and the page fell back to polling
/api/status, which answers 401: it showed "unreachable", as if the bot were down, and never
offered the login; a page opened before logging in never went live after the login either
(it kept polling). Now it says "logged out", shows the login form, and a login brings the live
feed back."""

from __future__ import annotations

import pytest

from storage.repository import Repository
from tests.dashboard.test_browser import ARGS, chromium  # noqa: F401 - the fixture
from tests.dashboard.test_server import TOKEN, serve

pytestmark = pytest.mark.slow


def test_a_page_whose_session_ended_offers_the_login_and_goes_live_again(
        tmp_path, chromium):  # noqa: F811 - the fixture
    from playwright.sync_api import expect, sync_playwright

    repo = Repository(tmp_path / "bot.sqlite", synchronous="normal")
    server = serve(tmp_path, repo, token=TOKEN, host="192.0.2.10")  # reads need a login
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(chromium), args=ARGS)
            try:
                page = browser.new_page()
                page.goto(server.url)
                # opened without a session: it said "unreachable", and after a login it never
                # went live (it kept polling)
                expect(page.locator("#conn")).to_have_text("logged out", timeout=15_000)
                expect(page.locator("#message")).to_have_text("log in to see the status")
                page.fill("#token", TOKEN)
                page.click("#login-form button[type=submit]")
                expect(page.locator("#conn")).to_have_text("live", timeout=15_000)
                page.click("#logout-btn")
                expect(page.locator("#conn")).to_have_text("logged out", timeout=15_000)
                expect(page.locator("#login-form")).to_be_visible()
                expect(page.locator("#message")).to_have_text("session ended: log in again")
                page.fill("#token", TOKEN)
                page.click("#login-form button[type=submit]")
                expect(page.locator("#conn")).to_have_text("live", timeout=15_000)
            finally:
                browser.close()
    finally:
        server.stop()
        repo.close()
