"""A view the page cannot read says why instead of keeping its last content (real dashboard
server on 127.0.0.1, headless chromium; the account's repository is a fake injected through
AccountHandle whose reads fail once told to, as a database with a disk I/O error does).

Found by review: the page drew the equity curve and the recent trades only from a 200; on a
503 (`database error: ...`) it kept the last chart and trades on screen, as if current, and the
journal of the chosen symbol went empty without a word."""

from __future__ import annotations

import sqlite3
import time
from decimal import Decimal
from typing import Any

import pytest

from dashboard.source import AccountHandle, DashboardSource
from storage import reports
from supervision.status import write_status
from tests.dashboard.test_browser import chromium  # noqa: F401  (the fixture)
from tests.dashboard.test_page_warnings import HEALTHY, actor, browser_page, open_page, serve
from tests.dashboard.test_page_warnings import status as status_doc

pytestmark = pytest.mark.slow
SYMBOL = "ETH/USDT:USDT"
TRADE = {"position_id": "p1", "symbol": SYMBOL, "side": "long", "contracts": "1",
         "entry_price": "2000", "opened_at": 1.0, "closed_at": 2.0, "status": "closed",
         "close_reason": "stop", "realized_pnl": "5", "fees": "1", "net_pnl": "4"}


class FailingRepository:
    """Answers the trades, equity and journal views until ``fail`` is set, then raises."""

    def __init__(self) -> None:
        self.fail = False

    def read(self, query: Any, *args: Any) -> Any:
        if self.fail:
            raise sqlite3.OperationalError("disk I/O error")
        if query is reports.trades:
            return [TRADE]
        if query is reports.journal:
            return [{"id": 1, "symbol": SYMBOL, "type": "SignalRejected", "data": {},
                     "correlation_id": "c", "created_at": 1.0, "recorded_at": 1.0}]
        return [{"time": 1.0, "equity": "10000"}, {"time": 2.0, "equity": "10004"}]


def test_a_view_that_cannot_be_read_says_so_instead_of_its_last_content(
        tmp_path, chromium):  # noqa: F811
    from playwright.sync_api import expect

    repo = FailingRepository()
    write_status(tmp_path, status_doc(beat=time.time(), actors=[actor(SYMBOL)], health=HEALTHY))
    source = DashboardSource(data_dir=tmp_path, running=lambda: True, accounts=[AccountHandle(
        name="main", symbols=(SYMBOL,), repo=repo, capital=Decimal(10000),
        log_path=lambda s: tmp_path / "x.log")])
    server = serve(tmp_path, source)
    try:
        with browser_page(chromium) as page:
            open_page(page, server)
            chart, trades = page.locator(".equity"), page.locator(".trades")
            expect(chart).to_contain_text("2 points", timeout=10_000)
            expect(trades.locator("tr")).to_have_count(2)  # the header and the trade
            expect(page.locator("#journal tr.event")).to_have_count(1)
            repo.fail = True  # the next reads, every 5 s
            reason = "not current: database error: disk I/O error"
            expect(chart).to_have_text(reason, timeout=15_000)
            expect(trades).to_have_text(reason)
            expect(page.locator("#journal tbody")).to_have_text(reason, timeout=15_000)
    finally:
        server.stop()
