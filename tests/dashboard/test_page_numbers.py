"""Prices and money on the page are the status's decimals, not floats (real dashboard server on
127.0.0.1 reading a status file, headless chromium).

Found by review: the page read every figure through a JavaScript float and `toFixed`. A stop of
a low-priced coin at 0.000475 read 0.0005, one at 0.000000475 (Python writes `4.75E-7`) read
0.0000; an equity of 10000.005 read 10000.00 and a realized total of 1.005 read 1.00 where the
bot rounds half up (10000.01, 1.01); -0.004 today read "-0.00"."""

from __future__ import annotations

import time
from decimal import Decimal

import pytest

from actors.actor_view import view_of
from tests.dashboard.test_browser import chromium  # noqa: F401  (the fixture)
from tests.dashboard.test_page_warnings import HEALTHY, actor, status_page
from trading.model import Phase, Position, SymbolState, TrailingState, TrailingStop
from trading.primitives import Side

pytestmark = pytest.mark.slow
PNL = {"realized_today": "-0.004", "realized_total": "1.005", "fees": "2.675",
       "equity": "10000.005", "drawdown": "0", "wins": 1, "losses": 0, "win_rate": 1.0}


def position_actor(symbol: str, entry: str, mark: str, stop: str) -> dict:
    """A symbol's status entry with a long position, from the actor's own view."""
    state = SymbolState(
        symbol=symbol, phase=Phase.OPEN, stop_price=Decimal(stop), last_price=Decimal(mark),
        position=Position(position_id="p1", side=Side.LONG, contracts=Decimal("100000"),
                          entry_price=Decimal(entry), opened_at=1.0),
        trailing=TrailingStop(state=TrailingState.WAITING, activation_price=Decimal(entry) * 2,
                              callback_pct=Decimal("1")))
    view = view_of(state, time.time(), reconciled=True)
    return {**actor(symbol), "phase": view.phase, "position": view.position,
            "stop_price": view.stop_price, "protected": True, "trailing": view.trailing}


def test_prices_keep_every_digit_and_money_is_rounded_as_a_decimal(tmp_path,
                                                                   chromium):  # noqa: F811
    from playwright.sync_api import expect

    average = (Decimal("43251.1") + Decimal("43251.2") * 2) / 3  # an entry after part fills
    actors = [position_actor("SPELL/USDT:USDT", "0.000512", "0.0005", "0.000475"),
              position_actor("TINY/USDT:USDT", "0.000000512", "0.0000005", "0.000000475"),
              position_actor("BTC/USDT:USDT", str(average), "43300", "42000")]
    assert actors[1]["stop_price"] == "4.75E-7"  # how Python writes the Decimal
    assert actors[2]["position"]["entry_price"] == "43251.16666666666666666666667"
    health = {**HEALTHY, "open_positions": 3, "protected_positions": 3}
    with status_page(tmp_path, chromium, actors=actors, health=health, pnl=PNL) as page:
        rows = page.locator("tr.position")
        expect(rows).to_have_count(3, timeout=10_000)
        cells = {row[0]: row for row in (
            [c.strip() for c in rows.nth(i).locator("td").all_inner_texts()]
            for i in range(3))}
        kpis = dict(zip(page.locator(".kpi .label").all_text_contents(),
                        page.locator(".kpi .value").all_text_contents(), strict=True))
    spell, tiny = cells["SPELL/USDT:USDT"], cells["TINY/USDT:USDT"]
    assert (spell[2], spell[5], spell[6]) == ("0.000475", "0.000512", "0.0005")
    assert spell[7] == "waiting @ 0.001024"
    assert (tiny[2], tiny[5], tiny[6]) == ("0.000000475", "0.000000512", "0.0000005")
    # every digit up to 8 places (6 significant ones below 0.01), not the 28 of a division
    assert cells["BTC/USDT:USDT"][5] == "43251.16666667"
    assert kpis["equity (capital + realized)"] == "10000.01"
    assert kpis["realized total"] == "1.01"
    assert kpis["fees"] == "2.68"
    assert kpis["realized today"] == "0.00"
