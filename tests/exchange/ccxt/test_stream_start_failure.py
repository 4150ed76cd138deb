"""The streams' thread when the venue's ccxt.pro class cannot even be built (a wrong venue id,
credentials ccxt rejects): before, the thread died with a traceback on stderr only, the status
said nothing and the bot quietly stayed on REST. Now one error line and `last_error` say so."""

from __future__ import annotations

from typing import Any

from exchange.ccxt.streams import VenueStreams
from tests.support.waiting import wait_until


class Lines:
    def __init__(self) -> None:
        self.lines: list[tuple[str, str]] = []

    def _at(self, level: str) -> Any:
        return lambda text, *args: self.lines.append((level, text.format(*args)))

    def __getattr__(self, level: str) -> Any:
        return self._at(level)


class Sink:
    def on_tickers(self, tickers: list[Any]) -> None: ...

    def on_fills(self, fills: list[Any]) -> None: ...

    def on_orders(self, orders: list[Any]) -> None: ...

    def on_connection(self, connected: bool) -> None: ...

    def on_unstreamed(self, symbols: list[str]) -> None: ...


def test_a_stream_that_cannot_start_says_so_in_one_line_and_in_its_health():
    def build() -> Any:
        raise ValueError("apiKey must be a non-empty string")

    log = Lines()
    streams = VenueStreams(build=build, symbols=["BTC/USDT:USDT"], sink=Sink(), logger=log)
    streams.start()
    try:
        wait_until(lambda: streams.health().last_error != "", message="the failure recorded")
    finally:
        streams.stop()
    health = streams.health()
    assert health.last_error == "start: ValueError: apiKey must be a non-empty string"
    assert not health.connected
    errors = [text for level, text in log.lines if level == "error"]
    assert errors == ["streams stopped (start: ValueError: apiKey must be a non-empty "
                      "string): prices and fills come from REST"]
