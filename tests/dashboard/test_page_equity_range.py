"""The equity chart's range ("from <lowest> to <highest>", its tooltip) in a real browser is the
ledger's figures rounded as every other amount on the page (half up, as decimals). It was
rounded through a float (Number.toFixed): an equity of 10500.005 read 10500.00 there while the
same figure read 10500.01 in the equity KPI and under the chart."""

from __future__ import annotations

import time
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest

from storage.models import FillRow
from storage.repository import Repository
from tests.dashboard.running_bot import RunningBot
from tests.dashboard.test_browser import ARGS, chromium  # noqa: F401  (the fixture)

pytestmark = pytest.mark.slow
# booked an hour ago: the curve's lowest and highest points, 10000 - 999.995 and that + 1500;
# the last brings it between them, so the bot's own small trades stay inside that range
SEEDED = [("-999.99", "0.005"), ("1500", "0"), ("-750", "0")]


def seed_ledger(data: Path) -> None:
    repo = Repository(data / "bot.sqlite", synchronous="normal")
    start = time.time() - 3600
    try:
        for n, (pnl, fee) in enumerate(SEEDED):
            repo.writer.submit(lambda n=n, pnl=pnl, fee=fee: FillRow.insert(
                symbol="BTC/USDT:USDT", client_order_id=f"seed-{n}", position_id=f"seed-{n}",
                side="sell", amount=Decimal(1), price=Decimal(100), fee=Decimal(fee),
                realized_pnl=Decimal(pnl), created_at=start + n).execute())
    finally:
        repo.close()


def cents(v: Decimal) -> str:
    return str(v.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def test_the_equity_range_is_rounded_as_decimals(tmp_path, chromium):  # noqa: F811
    from playwright.sync_api import expect, sync_playwright

    bot = RunningBot(tmp_path, before_start=seed_ledger, ready=lambda s: True)
    try:
        points = bot.get("/api/equity")["points"]
        ys = [Decimal(p["equity"]) for p in points]
        assert min(ys) == Decimal("9000.005") and max(ys) == Decimal("10500.005"), ys[:5]
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(chromium), args=ARGS)
            try:
                page = browser.new_page(viewport={"width": 1280, "height": 1000})
                page.goto(bot.url)
                expect(page.locator("#conn")).to_have_text("live", timeout=15_000)
                title = page.locator(".equity svg title").first
                expect(title).to_be_attached(timeout=15_000)
                # the bot trades on meanwhile, but inside the seeded range
                text = title.text_content()
            finally:
                browser.close()
    finally:
        code, err = bot.stop()
    assert code == 0, err[-2000:]
    assert text == f"from {cents(min(ys))} to {cents(max(ys))}"  # 9000.01 to 10500.01
