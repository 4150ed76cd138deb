"""The dry-run price source's REST polls (LiveTickerSource: dry-run without streams, and the
streams' fallback while they are down, StreamedTickerSource) during a venue outage: one warning,
not one at every poll. It logged 'ticker poll failed' at every poll interval (0.5 s by default:
two lines a second) for as long as the venue was down, the sibling of the REST feed's fixed
flood (tests/actors/test_feed_poll_outage.py). The source's real polling thread, a fetcher that
refuses on demand."""

from __future__ import annotations

from decimal import Decimal

from loguru import logger

from exchange.ccxt.tickers import LiveTickerSource
from exchange.records import VenueTicker
from tests.support.waiting import wait_until

BTC = "BTC/USDT:USDT"


class Refusing:
    def __init__(self) -> None:
        self.failing = True
        self.refused = 0

    def fetch_tickers(self, symbols: list[str] | None = None) -> dict[str, VenueTicker]:
        if self.failing:
            self.refused += 1
            raise ConnectionError("503 Service Unavailable")
        return {BTC: VenueTicker(symbol=BTC, last=Decimal("50000"))}


def test_an_outage_of_the_ticker_polls_is_one_warning_and_one_line_when_it_ends():
    lines: list[tuple[str, str]] = []
    sink = logger.add(lambda m: lines.append((m.record["level"].name, m.record["message"])),
                      level="INFO", filter=lambda r: "ticker poll" in r["message"])
    fetcher = Refusing()
    source = LiveTickerSource(fetcher, [BTC], interval_s=0.01).start()
    try:
        wait_until(lambda: fetcher.refused >= 20, message="20 refused polls")
        warned = [text for level, text in list(lines) if level == "WARNING"]
        assert len(warned) == 1 and "503 Service Unavailable" in warned[0], warned
        fetcher.failing = False
        wait_until(lambda: source.last(BTC) is not None, message="a price again")
        wait_until(lambda: any(level == "INFO" for level, _ in list(lines)),
                   message="the line saying the polls answer again")
        assert "answer again" in [t for lv, t in lines if lv == "INFO"][-1]
    finally:
        source.stop()
        logger.remove(sink)
