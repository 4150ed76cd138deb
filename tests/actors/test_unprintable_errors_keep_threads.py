"""A failure whose exception cannot be turned into text (its `str()` raises) is logged by its
type, and the thread that met it goes on. Before, the log line of the poll loop's `except`
called that `str()`, loguru let the error out, and the market feed's thread ended: no price and
no fill reached any actor again until a restart (observability/error_text.py). Real
MarketFeed thread over the paper exchange; the same loop shape as the stream feed's and the
record keeper's."""

from __future__ import annotations

import threading
import time
from decimal import Decimal

from actors.market_feed import MarketFeed
from exchange.paper.exchange import PaperExchange
from exchange.paper.prices import GeneratorPriceSource
from tests.support.faulty_exchange import FaultyExchange
from tests.support.waiting import wait_until

BTC = "BTC/USDT:USDT"


class Unprintable(Exception):
    def __str__(self) -> str:
        raise AttributeError("no text for this error")


class Lines:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def bind(self, **_: object) -> Lines:
        return self

    def _keep(self, text: str, *args: object) -> None:
        self.lines.append(text.format(*args))  # formats as loguru does, in this thread

    warning = error = info = debug = _keep


def test_the_market_feed_polls_on_after_an_unprintable_failure(tmp_path) -> None:  # noqa: ANN001
    paper = PaperExchange(store_path=tmp_path / "paper.sqlite", symbols=[BTC],
                          price_source=GeneratorPriceSource(seed=3, step_ms=1000, speed=1.0,
                                                             epoch_ms=int(time.time() * 1000) - 10_000),
                          starting_balance=Decimal(1000))
    faulty = FaultyExchange(paper)
    failed = threading.Event()

    def once(name, args, kwargs):  # noqa: ANN001, ANN202
        if not failed.is_set():
            failed.set()
            raise Unprintable()

    faulty.before["fetch_tickers"] = once
    got: list[object] = []
    log = Lines()
    feed = MarketFeed(exchange=faulty, symbols=[BTC],  # type: ignore[arg-type]
                      deliver=lambda s, m: got.append(m) or True, interval_s=0.02,
                      own_prefix="main-x-", logger=log, pace_quiet=False)
    feed.start()
    try:
        wait_until(lambda: failed.is_set() and got, message="a price after the failure")
        assert feed._thread.is_alive()
        assert "market feed poll failed: Unprintable: (its message cannot be read)" in log.lines
    finally:
        feed.stop()
        paper.close()
