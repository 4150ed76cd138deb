"""A symbol with a very long name on a phone in a real browser: nothing is wider than the screen
(tables scroll inside their cards; the symbol picker and the alerts wrap or shrink). The name is
as long as the bot takes with the account "main" (16 letters of base: its client order ids
reach the venues' 36 characters), in wide letters, on a 360 px wide phone."""

from __future__ import annotations

import os

import pytest

from tests.dashboard.running_bot import TOKEN, fast_config
from tests.dashboard.test_browser import ARGS, chromium  # noqa: F401  (the fixture)
from tests.e2e.bot_process import start_bot, wait_status
from tests.support.waiting import wait_until

pytestmark = pytest.mark.slow
WIDEST = """() => [...document.querySelectorAll("body *")]
  .filter(e => e.getBoundingClientRect().right > window.innerWidth + 1
               && !e.closest(".scroll"))
  .map(e => `${e.tagName}#${e.id}.${e.className}:${Math.round(e.getBoundingClientRect().right)}`)
  .slice(0, 8)"""
LONG = "WWWWWWWWWWWWWWWW/USDT:USDT"


def test_a_long_symbol_fits_a_phone(tmp_path, chromium):  # noqa: F811
    from playwright.sync_api import expect, sync_playwright

    config = fast_config(tmp_path / "config.toml")
    text = config.read_text()
    config.write_text(text.replace('list = ["BTC/USDT:USDT"', f'list = ["{LONG}"', 1))
    assert LONG in config.read_text()
    data = tmp_path / "data"
    proc = start_bot(config, data, env={**os.environ, "BOT_DASHBOARD_TOKEN": TOKEN})
    try:
        status = wait_status(config, data, lambda s: s["bot"].get("dashboard") and any(
            a["symbol"] == LONG and a["state"] == "running" for a in s["actors"]), timeout=90,
            message="dashboard up and the long symbol's actor running")
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(chromium), args=ARGS)
            try:
                phone = browser.new_page(viewport={"width": 360, "height": 800})
                phone.goto(status["bot"]["dashboard"])
                expect(phone.locator("#conn")).to_have_text("live", timeout=15_000)
                expect(phone.locator(f'tr[data-actor="{LONG}"]')).to_be_attached(timeout=15_000)
                expect(phone.locator("#detail-symbol option", has_text=LONG)).to_be_attached()
                widths = "[document.documentElement.scrollWidth, window.innerWidth]"
                try:
                    wait_until(lambda: phone.evaluate(
                        "document.documentElement.scrollWidth <= window.innerWidth + 1"),
                        timeout=5, message="no sideways scrolling on a phone")
                except AssertionError:
                    phone.screenshot(path=str(tmp_path / "too-wide.png"), full_page=True)
                    wide = phone.evaluate(WIDEST)
                    raise AssertionError(f"page wider than the phone: {phone.evaluate(widths)}; "
                                         f"{wide}") from None
                phone.screenshot(path=str(tmp_path / "long-symbol-phone.png"), full_page=True)
            finally:
                browser.close()
    finally:
        if proc.poll() is None:
            proc.terminate()
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err[-2000:]
