"""The streams' thread when their start fails (the venue's ccxt.pro instance cannot be built or
set up). First the thread died with a traceback on stderr only; then it said so in one line and
stayed dead: the bot ran on REST polling for good, even once the cause was gone. Now the start
is tried again at the refusal backoff (retry_s doubling, at most 60 s), said in one error line
per outage (later failures at debug level), `last_error` names it while the streams are not
connected, and once a start succeeds the feed goes back to the streams. The real ccxt.pro bybit
class against the HTTP and WebSocket emulators (the stream rig), a build that fails on demand."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from loguru import logger

from exchange.ccxt.factory import pro_exchange_factory
from exchange.ccxt.secrets import Credentials
from exchange.ccxt.streams import VenueStreams
from tests.exchange.ccxt.ccxt_fixtures import API_KEY, API_SECRET
from tests.exchange.ccxt.stream_rig import SYMBOLS, StreamRig
from tests.support.waiting import wait_until


class Lines:
    def __init__(self) -> None:
        self.lines: list[tuple[str, str]] = []

    def _at(self, level: str) -> Any:
        return lambda text, *args: self.lines.append((level, text.format(*args)))

    def bind(self, **_: Any) -> Lines:
        return self

    def __getattr__(self, level: str) -> Any:
        return self._at(level)

    def at(self, level: str) -> list[str]:
        return [text for lv, text in list(self.lines) if lv == level]


class Sink:
    def on_tickers(self, tickers: list[Any]) -> None: ...

    def on_fills(self, fills: list[Any]) -> None: ...

    def on_orders(self, orders: list[Any]) -> None: ...

    def on_connection(self, connected: bool) -> None: ...

    def on_unstreamed(self, symbols: list[str]) -> None: ...


def test_a_stream_that_cannot_start_says_so_in_one_line_and_in_its_health():
    builds = [0]

    def build() -> Any:
        builds[0] += 1
        raise ValueError("apiKey must be a non-empty string")

    log = Lines()
    streams = VenueStreams(build=build, symbols=["BTC/USDT:USDT"], sink=Sink(), logger=log,
                           retry_s=0.01)
    streams.start()
    try:
        wait_until(lambda: builds[0] >= 4, message="the start tried again")
    finally:
        streams.stop()
    health = streams.health()
    assert health.last_error == "start: ValueError: apiKey must be a non-empty string"
    assert not health.connected
    errors = log.at("error")
    assert len(errors) == 1, errors  # one line an outage, the next tries at debug level
    assert errors[0].startswith("streams could not start (start: ValueError: apiKey must be a "
                                "non-empty string); prices and fills come from REST"), errors


def test_a_failed_start_is_tried_again_and_the_feed_goes_back_to_the_streams(tmp_path: Path):
    rig = StreamRig("bybit", tmp_path, confirm_s=10.0)
    real = pro_exchange_factory("bybit", Credentials(API_KEY, API_SECRET, source="test"),
                                api_url=rig.http.base_url, ws_url=rig.ws.url,
                                timeout_ms=10_000, meter=rig.gateway.meter)
    failing, builds = [True], [0]

    def build() -> Any:
        builds[0] += 1
        if failing[0]:
            raise OSError("Temporary failure in name resolution")
        return real()

    log = Lines()
    rig.streams = VenueStreams(build=build, symbols=SYMBOLS, sink=rig.feed, logger=log,
                               retry_s=0.05, confirm_s=10.0, markets=rig.gateway.markets)
    rig.feed.attach(rig.streams)
    rig.start()
    try:
        wait_until(lambda: builds[0] >= 3, message="three failed starts")
        assert rig.feed.mode == "rest"
        status = rig.feed.status()
        assert not status["connected"] and status["last_error"].startswith("start: OSError")
        failing[0] = False
        rig.wait_mode("stream")
        assert len(log.at("error")) == 1, log.lines
    finally:
        logger.complete()
        rig.stop()
