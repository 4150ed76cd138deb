"""Live mode with a key the venue refuses: the start ends in one line that says the key was
refused and where it comes from, exit 2. On Bybit it said "markets unusable after a refetch
...; check exchange.markets_cache" (ccxt's Bybit reads the currencies, a signed call, while
loading the markets), sending the user to a cache that was never the problem; on Binance
(markets load unsigned) the bot started and warned on every poll and reconciliation for as
long as it ran. Real ccxt classes against the venue emulators on 127.0.0.1, `python bot.py` as
a subprocess."""

from __future__ import annotations

import pytest

from tests.e2e.bot_process import live_start_to_its_end
from tests.exchange.ccxt.ccxt_fixtures import API_KEY, API_SECRET

pytestmark = pytest.mark.slow


@pytest.mark.parametrize(("venue", "answer"), [
    ("bybit", "API key is invalid"),
    ("binanceusdm", "Invalid API-key, IP, or permissions for action"),
])
def test_a_key_the_venue_refuses_stops_the_start_naming_the_key(tmp_path, venue, answer):
    wrong = "W" * len(API_KEY)
    _, code, err = live_start_to_its_end(tmp_path, venue, ["BTC/USDT:USDT"], api_key=wrong)
    assert code == 2, err[-2000:]
    lines = err.strip().splitlines()
    assert len(lines) == 1, err[-2000:]
    assert f"exchange {venue} refused the API key at start" in lines[0], lines[0]
    assert answer in lines[0] and "exchange.api_key_env" in lines[0]
    assert "markets_cache" not in lines[0]
    assert wrong not in err and API_SECRET not in err
