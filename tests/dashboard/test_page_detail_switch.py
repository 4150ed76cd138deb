"""The symbol detail (journal and log tail) shows the symbol chosen, never a late answer for the
one chosen before (real dashboard server on 127.0.0.1, headless chromium; the account's
repository is a fake injected through AccountHandle whose journal read of one symbol is held,
as a slow database holds it).

Found by review: the page drew whatever answer came back last. With the journal of the first
symbol slow to read (a database under load, a hung read up to its deadline), a person who chose
another symbol meanwhile saw that one's journal, and then, when the late answer came, the first
symbol's journal and log under the second symbol's name, until the next reload 5 s later."""

from __future__ import annotations

import threading
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
from tests.support.waiting import wait_until

pytestmark = pytest.mark.slow
SLOW, CHOSEN = "BTC/USDT:USDT", "ETH/USDT:USDT"


class SlowJournal:
    """Journal reads of SLOW wait until released; every read is counted per symbol."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.lock = threading.Lock()
        self.asked: dict[str, int] = {SLOW: 0, CHOSEN: 0}
        self.served: dict[str, int] = {SLOW: 0, CHOSEN: 0}

    def read(self, query: Any, *args: Any) -> Any:
        if query is not reports.journal:
            return []
        symbol = args[0]
        with self.lock:
            self.asked[symbol] += 1
        if symbol == SLOW:
            self.release.wait(30)
        with self.lock:
            self.served[symbol] += 1
        return [{"id": 1, "symbol": symbol, "type": f"EVENT-OF-{symbol}", "data": {},
                 "correlation_id": "c", "created_at": 1.0, "recorded_at": 1.0}]

    def count(self, table: dict[str, int], symbol: str) -> int:
        with self.lock:
            return table[symbol]


def test_a_late_answer_for_the_symbol_chosen_before_is_not_drawn(tmp_path, chromium):  # noqa: F811
    from playwright.sync_api import expect

    repo = SlowJournal()
    write_status(tmp_path, status_doc(beat=time.time(), actors=[actor(SLOW), actor(CHOSEN)],
                                      health=HEALTHY))
    source = DashboardSource(data_dir=tmp_path, running=lambda: True, accounts=[AccountHandle(
        name="main", symbols=(SLOW, CHOSEN), repo=repo, capital=Decimal(10000),
        log_path=lambda s: tmp_path / "none.log")])
    server = serve(tmp_path, source)
    try:
        with browser_page(chromium) as page:
            open_page(page, server)
            wait_until(lambda: repo.count(repo.asked, SLOW) >= 1, timeout=15,
                       message="the first symbol's journal asked (and held)")
            page.select_option("#detail-symbol", index=1)  # the person chooses ETH
            journal = page.locator("#journal tbody")
            expect(journal).to_contain_text(f"EVENT-OF-{CHOSEN}", timeout=10_000)
            page.evaluate("""() => {
                window.__wrong = false;
                new MutationObserver(() => {
                    if (document.querySelector('#journal tbody').textContent
                        .includes('EVENT-OF-BTC')) window.__wrong = true;
                }).observe(document.querySelector('#journal tbody'),
                           {childList: true, subtree: true, characterData: true});
            }""")
            asked = repo.count(repo.asked, CHOSEN)
            repo.release.set()  # the late answer(s) for BTC arrive now
            wait_until(lambda: repo.count(repo.served, SLOW) == repo.count(repo.asked, SLOW),
                       timeout=10, message="BTC's held reads answered")
            # two reloads of ETH's detail later (5 s apart), BTC's answers were long handled
            wait_until(lambda: repo.count(repo.served, CHOSEN) >= asked + 2, timeout=20,
                       message="two later reloads of the chosen symbol")
            assert page.evaluate("() => window.__wrong") is False, \
                "BTC's late journal was drawn under ETH"
            expect(journal).to_contain_text(f"EVENT-OF-{CHOSEN}")
    finally:
        repo.release.set()
        server.stop()
