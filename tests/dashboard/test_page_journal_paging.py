"""Paging a symbol's journal on the page stops at its oldest event (real dashboard server on
127.0.0.1, a real SQLite journal, headless chromium).

Found by review: past the oldest page `/api/journal` answers `next_before_id: null`, and the
next press of "older events" asked without `before_id`: the newest 30 events were appended
under the oldest, as if older, and again at every press."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from dashboard.source import AccountHandle, DashboardSource
from storage.repository import Repository
from supervision.status import write_status
from tests.dashboard.test_browser import chromium  # noqa: F401  (the fixture)
from tests.dashboard.test_page_warnings import HEALTHY, actor, browser_page, open_page, serve
from tests.dashboard.test_page_warnings import status as status_doc

pytestmark = pytest.mark.slow
SYMBOL = "ETH/USDT:USDT"
EVENTS = 35  # a page of 30 and one of 5


@pytest.fixture
def repo(tmp_path: Path) -> Iterator[Repository]:
    r = Repository(tmp_path / "bot.sqlite", synchronous="normal")
    for i in range(EVENTS):
        r.record(SYMBOL, "SignalRejected", {"reason": f"event {i}"}, correlation_id=f"c{i}")
    yield r
    r.close()


def test_older_events_stop_at_the_oldest_and_never_repeat_the_newest(
        tmp_path, repo, chromium):  # noqa: F811
    from playwright.sync_api import expect

    write_status(tmp_path, status_doc(beat=time.time(), actors=[actor(SYMBOL)], health=HEALTHY))
    source = DashboardSource(data_dir=tmp_path, running=lambda: True, accounts=[AccountHandle(
        name="main", symbols=(SYMBOL,), repo=repo, capital=Decimal(10000),
        log_path=lambda s: tmp_path / "logs" / "x.log")])
    server = serve(tmp_path, source)
    try:
        with browser_page(chromium) as page:
            open_page(page, server)
            rows = page.locator("#journal tr.event")
            expect(rows).to_have_count(30, timeout=10_000)
            older = page.locator("#journal-older")
            older.click()
            expect(rows).to_have_count(EVENTS, timeout=10_000)
            with page.expect_response(lambda r: "/api/journal" in r.url) as answer:
                older.click()  # the page past the oldest: empty
            assert answer.value.json()["events"] == []
            older.click()
            expect(page.locator("#message")).to_have_text("no older events", timeout=10_000)
            ids = [int(t) for t in rows.locator("td:first-child").all_inner_texts()]
    finally:
        server.stop()
    assert ids == sorted(set(ids), reverse=True) and len(ids) == EVENTS


def test_two_quick_presses_of_older_never_append_a_page_twice(tmp_path, repo, chromium):  # noqa: F811
    """A press while the previous page is still on its way waits for it (the page's loads are
    queued). Before, it asked for the same before_id and the same page was appended twice (the
    answers held back here by the log read, which the server makes on its loop)."""
    from playwright.sync_api import expect

    gate = threading.Event()
    gate.set()
    log = tmp_path / "logs" / "x.log"

    def log_path(symbol: str) -> Path:
        gate.wait(30)  # held: the server answers nothing until the test lets it go
        return log

    write_status(tmp_path, status_doc(beat=time.time(), actors=[actor(SYMBOL)], health=HEALTHY))
    source = DashboardSource(data_dir=tmp_path, running=lambda: True, accounts=[AccountHandle(
        name="main", symbols=(SYMBOL,), repo=repo, capital=Decimal(10000), log_path=log_path)])
    server = serve(tmp_path, source)
    try:
        with browser_page(chromium) as page:
            open_page(page, server)
            rows = page.locator("#journal tr.event")
            expect(rows).to_have_count(30, timeout=10_000)
            older = page.locator("#journal-older")
            with page.expect_request(lambda r: "before_id" in r.url) as asked:
                gate.clear()
                older.click()
            older.click()  # the first page's answer not drawn yet
            assert "before_id" in asked.value.url
            gate.set()
            expect(rows).to_have_count(EVENTS, timeout=10_000)
            older.click()
            expect(page.locator("#message")).to_have_text("no older events", timeout=10_000)
            ids = [int(t) for t in rows.locator("td:first-child").all_inner_texts()]
    finally:
        gate.set()
        server.stop()
    assert ids == sorted(set(ids), reverse=True) and len(ids) == EVENTS, ids


def test_a_refresh_answered_late_never_wipes_the_pages_appended_after_it(
        tmp_path, repo, chromium):  # noqa: F811
    """The first load's journal answer is held back (a slow server) while a refresh is sent,
    drawn, and a page of older events appended under it; the held answer then arrives. Before,
    it was drawn too: the journal went back to the newest 30 events (seen as a flaky CI run of
    the test above, where the page's 5 s refresh overlapped the first load)."""
    from playwright.sync_api import expect

    write_status(tmp_path, status_doc(beat=time.time(), actors=[actor(SYMBOL)], health=HEALTHY))
    source = DashboardSource(data_dir=tmp_path, running=lambda: True, accounts=[AccountHandle(
        name="main", symbols=(SYMBOL,), repo=repo, capital=Decimal(10000),
        log_path=lambda s: tmp_path / "logs" / "x.log")])
    server = serve(tmp_path, source)
    held: list = []

    def hold_the_first(route) -> None:
        if held:
            route.continue_()
        else:
            held.append(route)

    try:
        with browser_page(chromium) as page:
            page.route("**/api/journal*", hold_the_first)
            open_page(page, server)
            deadline = time.monotonic() + 15
            while not held:  # the first load's journal request reached the route
                assert time.monotonic() < deadline, "the page never asked for its journal"
                page.wait_for_timeout(20)
            journal = page.locator("#journal")
            expect(journal).to_have_attribute("aria-busy", "true")
            page.dispatch_event("#detail-symbol", "change")  # a refresh, answered at once
            rows = page.locator("#journal tr.event")
            expect(rows).to_have_count(30, timeout=10_000)
            page.locator("#journal-older").click()
            expect(rows).to_have_count(EVENTS, timeout=10_000)
            held[0].continue_()
            # busy since the held load started: false once it has been answered and settled
            expect(journal).to_have_attribute("aria-busy", "false", timeout=10_000)
            ids = [int(t) for t in rows.locator("td:first-child").all_inner_texts()]
    finally:
        server.stop()
    assert ids == sorted(set(ids), reverse=True) and len(ids) == EVENTS, ids
