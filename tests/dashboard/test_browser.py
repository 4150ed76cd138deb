"""A real browser (Debian's headless chromium, driven by Playwright) on the dashboard of a
running paper bot: open positions with their stops, a control refused without the token and
applied with it, every string escaped, readable on a phone. Screenshots go to the test's tmp dir
(and to docs/dashboard.png with UPDATE_DOCS_SCREENSHOT=1)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from storage.repository import Repository
from tests.dashboard.running_bot import SYMBOLS, TOKEN, RunningBot
from tests.support.waiting import wait_until

pytestmark = pytest.mark.slow
CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
PAYLOAD = '<img src=x onerror="window.__xss=1"><script>window.__xss=2</script>'
DOCS = Path(__file__).resolve().parents[2] / "docs" / "dashboard.png"
PROTECTED_ROW = """() => {
  for (const tr of document.querySelectorAll("tr.position")) {
    const cells = [...tr.querySelectorAll("td")].map(td => td.textContent);
    const stop = tr.querySelector("td.stop").textContent;
    if (cells.includes("protected")) return [tr.dataset.symbol, stop];
  }
  return null;
}"""


@pytest.fixture
def chromium() -> Path:
    if not CHROMIUM.exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"{CHROMIUM} is missing: .ci/run must apt-get install chromium")
        pytest.skip(f"{CHROMIUM} not installed (apt-get install chromium)")
    return CHROMIUM


@contextmanager
def live_dashboard(bot: RunningBot, chromium: Path) -> Iterator[tuple[Any, Any]]:
    """(browser, page): chromium on the bot's dashboard, once its event stream is live."""
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(chromium), args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1000})
            page.goto(bot.url)
            expect(page.locator("#conn")).to_have_text("live", timeout=15_000)
            yield browser, page
        finally:
            browser.close()


def seed_hostile_journal(data: Path) -> None:
    """A journal row whose fields carry markup, as an error text or a signal field could."""
    repo = Repository(data / "bot.sqlite", synchronous="normal")
    try:
        repo.record(SYMBOLS[0], "SignalRejected", {"reason": PAYLOAD, "id": PAYLOAD},
                    correlation_id="hostile")
    finally:
        repo.close()


def hostile_cell_text(page: Any) -> str:
    """The seeded row's cell (the symbol's oldest row: paged back to). The journal re-renders
    when the symbol journals something new, which can drop the older pages between finding
    the cell and reading it (CI: inner_text waited 30 s for a detached cell): page back again."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    for _ in range(5):
        cell = page.locator("#journal td", has_text="window.__xss=1").first
        for _ in range(20):
            if cell.count():
                break
            rows = page.locator("#journal tr.event").count()
            page.click("#journal-older")
            page.wait_for_function(
                f"document.querySelectorAll('#journal tr.event').length > {rows}")
        try:
            return str(cell.inner_text(timeout=3_000))
        except PlaywrightTimeout:
            continue
    raise AssertionError("the seeded journal row never stayed on the page long enough to read")


def test_dashboard_in_a_real_browser(tmp_path, chromium):
    from playwright.sync_api import expect

    bot = RunningBot(tmp_path, before_start=seed_hostile_journal)
    try:
        with live_dashboard(bot, chromium) as (browser, page):
            # open positions and their stops, as the bot reports them: a row marked protected
            # (a position just opened shows "-" and NOT PROTECTED until its stop is placed),
            # its symbol and stop read in one look (the table re-renders on every update)
            expect(page.locator("tr.position").first).to_be_visible(timeout=30_000)
            found = wait_until(lambda: page.evaluate(PROTECTED_ROW), timeout=30,
                               message="a position row marked protected")
            symbol, stop_text = found
            assert symbol in SYMBOLS
            assert stop_text != "-" and float(stop_text) > 0
            expect(page.locator(".equity svg").first).to_be_attached(timeout=10_000)
            shot = tmp_path / "dashboard.png"
            page.screenshot(path=str(shot), full_page=True)
            if os.environ.get("UPDATE_DOCS_SCREENSHOT") == "1":
                DOCS.parent.mkdir(exist_ok=True)
                shutil.copyfile(shot, DOCS)

            # refused without the token: nothing changes
            page.locator('button[data-action="pause"]').click()
            expect(page.locator("#message")).to_contain_text("refused", timeout=10_000)
            expect(page.locator("#message")).to_contain_text("missing or bad token")
            assert bot.get("/api/status").get("entries_paused") is None

            # with the token (login cookie): the pause reaches every actor and shows
            page.fill("#token", TOKEN)
            page.click("#login-btn")  # a round trip to the bot's dashboard, as the others
            expect(page.locator("#auth-state")).to_have_text("controls enabled", timeout=15_000)
            page.locator('button[data-action="pause"]').click()
            expect(page.locator('[data-testid="paused"]')).to_be_visible(timeout=15_000)
            status = bot.get("/api/status")
            assert status["entries_paused"]["by"] == "dashboard login from 127.0.0.1"
            assert TOKEN not in page.content()

            # hostile strings are shown as text, never run
            page.select_option("#detail-symbol", f'["main", "{SYMBOLS[0]}"]'.replace(" ", ""))
            assert PAYLOAD in hostile_cell_text(page).replace('\\"', '"')
            assert page.locator("#journal img, #journal script").count() == 0
            assert page.evaluate("window.__xss") is None

            page.screenshot(path=str(tmp_path / "dashboard-paused.png"), full_page=True)

            # a phone: nothing wider than the screen (tables scroll inside their cards)
            phone = browser.new_page(viewport={"width": 390, "height": 844})
            phone.goto(bot.url)
            expect(phone.locator("tr.position, td.muted").first).to_be_visible(timeout=15_000)
            wait_until(lambda: phone.evaluate(
                "document.documentElement.scrollWidth <= window.innerWidth + 1"),
                timeout=5, message="no sideways scrolling on a phone")
            phone.screenshot(path=str(tmp_path / "dashboard-phone.png"), full_page=True)
        assert (tmp_path / "dashboard.png").stat().st_size > 10_000
    finally:
        code, err = bot.stop()
    assert code == 0, err[-2000:]


def _press_on(page, target) -> None:  # noqa: ANN001
    """Press the mouse on `target`. The page may redraw (and move it) between finding its box
    and the press, as it may under a person's pointer: release and try again until the press
    is on it."""
    for _ in range(20):
        target.wait_for(state="visible", timeout=10_000)
        box = target.bounding_box()
        if box is None:  # redrawn between the two calls
            continue
        x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
        page.mouse.move(x, y)
        page.mouse.down()
        if target.evaluate("(b, [x, y]) => document.elementFromPoint(x, y) === b", [x, y]):
            return
        page.mouse.up()
    raise AssertionError("could not press on the button: it kept moving")


def test_a_status_arriving_during_a_press_waits_for_the_release(tmp_path, chromium):
    """The page redraws on every status event; one drawn between a person's press and release
    replaced the button under the pointer, so the click was lost (seen in CI) or another
    row's button could take it. While a pointer is pressed the newest status waits."""
    from playwright.sync_api import expect

    bot = RunningBot(tmp_path)
    try:
        with live_dashboard(bot, chromium) as (_, page):
            pause = page.locator('button[data-action="pause"]')
            _press_on(page, pause)  # redraws stop here; mark the button under the pointer
            pause.evaluate("b => { b.dataset.mark = 'pressed'; }")
            page.wait_for_function("() => waiting !== null", timeout=10_000)  # a status came in
            assert pause.get_attribute("data-mark") == "pressed"  # not redrawn under us
            page.mouse.up()
            expect(page.locator("#message")).to_contain_text("refused", timeout=10_000)
            page.wait_for_function(
                "() => !document.querySelector('button[data-action=\"pause\"][data-mark]')",
                timeout=10_000)  # and the waiting status is drawn after the release
    finally:
        code, err = bot.stop()
        assert code == 0, err[-2000:]
