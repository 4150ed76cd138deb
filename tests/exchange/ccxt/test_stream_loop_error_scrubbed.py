"""Security review: a failure of the streams' loop outside a watcher (here the venue instance's
``close()`` at stop, whose error quotes the private stream's URL) went into ``last_error`` (the
status dump, the dashboard) and an ERROR line unscrubbed, while a watcher's failure was
scrubbed: the API key, the secret and a Binance listen key (it lets anyone read the account's
private stream) must be masked on this path too."""

from __future__ import annotations

import asyncio
from typing import Any

import ccxt

from exchange.ccxt.streams import VenueStreams
from tests.exchange.ccxt.test_stream_start_failure import Lines, Sink
from tests.support.waiting import wait_until

KEY, SECRET = "K3yAbCdEfGhIjKlMn0", "S3cretZyXwVuTsRqP9"
LISTEN_KEY = "pqZ8xLk2Vb7Nw4Rt9Ys1Hc6Ju3Md0Fe5Gi8Ko2Lp"


class ClosingFails:
    """A ccxt.pro instance whose ticker watch waits and whose close() fails, quoting its URL."""

    id = "fakeex"

    def __init__(self) -> None:
        self.apiKey, self.secret = KEY, SECRET
        self.options: dict[str, Any] = {}
        self.clients: dict[str, Any] = {}
        self.tickers: dict[str, Any] = {}
        self.markets: dict[str, Any] = {}
        self.watching = asyncio.Event()

    async def watch_tickers(self, symbols: Any = None) -> None:
        self.watching.set()
        await asyncio.Event().wait()

    async def close(self) -> None:
        raise ccxt.NetworkError(f"closing wss://fstream.binance.com/ws/{LISTEN_KEY} failed "
                                f"(apiKey={KEY} secret={SECRET})")


def test_an_error_of_the_stream_loop_is_scrubbed():
    built: list[ClosingFails] = []

    def build() -> ClosingFails:
        built.append(ClosingFails())
        return built[-1]

    log = Lines()
    streams = VenueStreams(build=build, symbols=["BTC/USDT:USDT"], sink=Sink(), logger=log,
                           private=False)
    streams.start()
    try:
        wait_until(lambda: bool(built) and built[0].watching.is_set(), message="watching")
    finally:
        streams.stop()
    error = streams.health().last_error
    assert error.startswith("start: NetworkError: closing wss://fstream.binance.com/ws/"), error
    texts = [error] + [text for _, text in log.lines]
    assert any("streams stopped" in text for text in texts)
    for secret in (KEY, SECRET, LISTEN_KEY):
        assert not any(secret in text for text in texts), (secret, texts)
