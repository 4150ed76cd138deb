"""A venue outage under a price poll is one warning (and a reminder every 5 minutes), as the
README says of polls that fail: the dry run's price polls and the live feed's polls report it
once (observability/poll_outage.py). The gateway's retries of each poll (4 per poll) were a
WARNING each on top, `fetch_tickers failed (NetworkError: ...); retry 1/4 in 0.71s`: 62 lines
in 136 s of a dry run's outage on the Bybit emulator. A polling call's retries are now logged
at DEBUG; other calls' retries stay warnings. The dry run's price source, the real ccxt
gateway, the Bybit emulator answering 503."""

from __future__ import annotations

from loguru import logger

from exchange.ccxt.tickers import LiveTickerSource
from tests.exchange.ccxt.ccxt_fixtures import gateway_on_emulator
from tests.support.waiting import wait_until

BTC = "BTC/USDT:USDT"


def test_a_price_poll_outage_is_one_warning_not_one_per_retry(tmp_path):
    warnings: list[str] = []
    sink = logger.add(lambda m: warnings.append(m.record["message"]), level="WARNING")
    try:
        with gateway_on_emulator("bybit", tmp_path, credentials=None) as (gateway, emu):
            emu.fail_next("/v5/market/tickers", 1000, status=503, body="down")
            source = LiveTickerSource(gateway, [BTC], interval_s=0.01).start()
            try:
                wait_until(lambda: source.errors >= 5, message="five polls failed")
            finally:
                source.stop()
            retried = len(emu.hits("/v5/market/tickers"))
    finally:
        logger.remove(sink)
    assert retried >= 25  # each poll was retried (5 attempts each): the retries still happen
    assert len(warnings) == 1 and "ticker poll failed" in warnings[0], warnings[:6]
