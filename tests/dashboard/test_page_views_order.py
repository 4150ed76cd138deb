"""An account's equity chart and trade list never go back to an older answer (real dashboard
server on 127.0.0.1, a real SQLite ledger, headless chromium).

Found while fixing the journal's sibling (test_page_journal_paging.py): the page loads these
views every 5 s, each load on its own; an answer that came late was drawn over a newer one,
and the list showed trades as they were before until the next refresh."""

from __future__ import annotations

import time
from decimal import Decimal

import pytest

from dashboard.source import AccountHandle, DashboardSource
from supervision.status import write_status
from tests.dashboard.test_browser import chromium  # noqa: F401  (the fixture)
from tests.dashboard.test_page_warnings import HEALTHY, actor, browser_page, open_page, serve
from tests.dashboard.test_page_warnings import status as status_doc
from tests.protections.ledger_rig import BTC, T0, Ledger

pytestmark = pytest.mark.slow


def test_a_trade_list_answered_late_is_not_drawn_over_a_newer_one(tmp_path, chromium):  # noqa: F811
    """The first load's trade list is read by the server (one trade), then held back; a trade
    closes and the next load draws two; the held answer is let go. Before, the list went back
    to one trade."""
    from playwright.sync_api import expect

    ledger = Ledger(tmp_path)
    ledger.closed("p1", BTC, "stop_loss", T0)
    write_status(tmp_path, status_doc(beat=time.time(), actors=[actor(BTC)], health=HEALTHY))
    source = DashboardSource(data_dir=tmp_path, running=lambda: True, accounts=[AccountHandle(
        name="main", symbols=(BTC,), repo=ledger.repo, capital=Decimal(10000),
        log_path=lambda s: tmp_path / "x.log")])
    server = serve(tmp_path, source)
    held: list = []

    def hold_the_first(route) -> None:
        if held:
            route.continue_()
        else:  # answered by the server now (one trade), handed to the page later
            held.append((route, route.fetch()))

    try:
        with browser_page(chromium) as page:
            page.route("**/api/trades*", hold_the_first)
            open_page(page, server)
            deadline = time.monotonic() + 15
            while not held:  # the first load's trade list was read
                assert time.monotonic() < deadline, "the page never asked for its trades"
                page.wait_for_timeout(20)
            ledger.closed("p2", BTC, "take_profit", T0 + 60, pnl="2")
            trades = page.locator('.trades[data-account="main"]')
            rows = trades.locator("tbody tr")
            expect(rows).to_have_count(2, timeout=15_000)  # the next load (5 s on)
            route, answer = held[0]
            route.fulfill(response=answer)
            # busy since the held load started: false once its answer has been handled
            expect(trades).to_have_attribute("aria-busy", "false", timeout=10_000)
            count = rows.count()
    finally:
        server.stop()
        ledger.close()
    assert count == 2
