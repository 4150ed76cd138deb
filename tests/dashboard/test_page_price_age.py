"""An open position's mark and uPnL on the page say their price's age once it is old (real
dashboard server on 127.0.0.1 reading a status file, headless chromium).

Found by review: Telegram's /status says `(price 600 s old)` after a uPnL from a price older
than a minute (the symbol's last tick: the feed down, REST failing too), but the page's
positions table showed the same mark and uPnL as if current; only the actors table further
down had a `tick age` column. Now the position's row says it, in red."""

from __future__ import annotations

import pytest

from tests.dashboard.test_browser import chromium  # noqa: F401  (the fixture)
from tests.dashboard.test_page_numbers import position_actor
from tests.dashboard.test_page_warnings import HEALTHY, status_page

pytestmark = pytest.mark.slow


def test_a_position_priced_long_ago_says_how_old_its_price_is(tmp_path,
                                                              chromium):  # noqa: F811
    from playwright.sync_api import expect

    old = {**position_actor("BTC/USDT:USDT", "43000", "43300", "42000"),
           "last_tick_age_s": 600.2}
    fresh = {**position_actor("ETH/USDT:USDT", "3000", "3001", "2900"), "last_tick_age_s": 0.4}
    health = {**HEALTHY, "open_positions": 2, "protected_positions": 2}
    with status_page(tmp_path, chromium, actors=[old, fresh], health=health) as page:
        rows = page.locator("tr.position")
        expect(rows).to_have_count(2, timeout=10_000)
        btc = page.locator('tr.position[data-symbol="BTC/USDT:USDT"]')
        eth = page.locator('tr.position[data-symbol="ETH/USDT:USDT"]')
        expect(btc).to_contain_text("(price 600 s old)")
        assert "old)" not in eth.inner_text(), eth.inner_text()


def test_a_mark_from_a_starts_reconciliation_read_says_its_age(tmp_path,
                                                               chromium):  # noqa: F811
    """Before the first tick of a run the mark is the reconciliation's read: no tick age, but
    `price_age_s` (found by review: the row showed it as current)."""
    from playwright.sync_api import expect

    restored = {**position_actor("BTC/USDT:USDT", "43000", "43300", "42000"),
                "last_tick_age_s": None, "price_age_s": 600.2}
    health = {**HEALTHY, "open_positions": 1, "protected_positions": 1}
    with status_page(tmp_path, chromium, actors=[restored], health=health) as page:
        btc = page.locator('tr.position[data-symbol="BTC/USDT:USDT"]')
        expect(btc).to_have_count(1, timeout=10_000)
        expect(btc).to_contain_text("(price 600 s old)")
