"""The page in a real browser logs no console error and gets no failed answer while it loads,
updates, logs in and out: Chromium asked for /favicon.ico (the page named no icon) and got a
404, "Failed to load resource: ... 404 (Not Found)" in the console of every dashboard tab."""

from __future__ import annotations

import pytest

from tests.dashboard.running_bot import TOKEN, RunningBot
from tests.dashboard.test_browser import ARGS, chromium  # noqa: F401  (the fixture)

pytestmark = pytest.mark.slow


def test_the_page_logs_no_console_error(tmp_path, chromium):  # noqa: F811
    from playwright.sync_api import expect, sync_playwright

    bot = RunningBot(tmp_path)
    errors: list[str] = []
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(chromium), args=ARGS)
            try:
                page = browser.new_page(viewport={"width": 1280, "height": 1000})
                page.on("console", lambda m: errors.append(
                    f"console: {m.text} ({m.location.get('url')})") if m.type == "error" else None)
                page.on("pageerror", lambda e: errors.append(f"page error: {e}"))
                page.on("response", lambda r: errors.append(f"HTTP {r.status} {r.url}")
                        if r.status >= 400 else None)
                page.goto(bot.url)
                expect(page.locator("#conn")).to_have_text("live", timeout=15_000)
                # the slower views drawn (equity, trades, journal), the icon asked for
                expect(page.locator(".equity svg, .equity .muted").first).to_be_attached(
                    timeout=15_000)
                expect(page.locator("#journal tr.event").first).to_be_attached(timeout=15_000)
                page.fill("#token", TOKEN)
                page.click("#login-btn")
                expect(page.locator("#auth-state")).to_have_text("controls enabled",
                                                                 timeout=15_000)
                page.click("#logout-btn")
                expect(page.locator("#auth-state")).to_contain_text("read-only", timeout=15_000)
                page.reload()
                expect(page.locator("#conn")).to_have_text("live", timeout=15_000)
                page.wait_for_function("() => document.querySelector('link[rel=icon]') === null"
                                       " || performance.getEntriesByType('resource').some("
                                       "e => e.name.includes('favicon'))", timeout=10_000)
            finally:
                browser.close()
    finally:
        code, err = bot.stop()
    assert code == 0, err[-2000:]
    assert errors == []
