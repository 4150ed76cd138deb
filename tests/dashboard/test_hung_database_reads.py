"""Reads of a database that does not answer never hold up the status, /metrics or the log (real
aiohttp server on 127.0.0.1, real HTTP clients on threads; the account's repository is a fake
whose reads hang until released, as a hung PostgreSQL's do until their 10 s deadline).

Found by review: every view's database read ran on the event loop's default executor (6 threads
on 2 cores). The page asks for the trades and the equity of each account every 5 s; with the
database hung those reads filled every thread, and `/api/status`, the live stream, `/metrics`
and the controls queued behind them: the page stopped updating, and the scrape timed out,
exactly while the database was down."""

from __future__ import annotations

import json
import threading
from decimal import Decimal
from pathlib import Path
from typing import Any

from loguru import logger

from dashboard.auth import Auth
from dashboard.server import DashboardServer
from dashboard.source import AccountHandle, DashboardSource
from observability.metrics import BotMetrics
from supervision.status import write_status
from tests.dashboard.test_server import STATUS, TOKEN, call
from tests.support.waiting import wait_until

REQUESTS = 40
"""More than any default executor holds (at most 32 threads)."""


class HangingRepository:
    """An account's repository whose reads wait until ``release`` is set."""

    def __init__(self) -> None:
        self.release = threading.Event()

    def read(self, query: Any, *args: Any) -> Any:
        self.release.wait(60)
        return []


class CountingSource(DashboardSource):
    """Counts the requests that reached a view of an account (their read is then queued)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.asked = 0

    def account(self, name: str | None) -> AccountHandle:
        self.asked += 1  # on the server's event loop only
        return super().account(name)


def test_a_hung_database_does_not_hold_up_the_status_metrics_or_the_log_tail(tmp_path: Path):
    repo = HangingRepository()
    write_status(tmp_path, json.loads(json.dumps(STATUS)))
    source = CountingSource(data_dir=tmp_path, running=lambda: True, accounts=[AccountHandle(
        name="main", symbols=("BTC/USDT:USDT",), repo=repo, capital=Decimal(10000),
        log_path=lambda s: tmp_path / "x.log")])
    server = DashboardServer(source=source, auth=Auth(token=TOKEN, host="127.0.0.1"),
                             logger=logger, metrics=BotMetrics(snapshot=source.status).render,
                             push_interval_s=0.1)
    server.start()
    answers: list[int] = []
    clients = [threading.Thread(target=lambda: answers.append(call(
        server.url + "/api/trades")[0])) for _ in range(REQUESTS)]
    try:
        for client in clients:
            client.start()
        wait_until(lambda: source.asked == REQUESTS, message="every read asked for")
        code, body = call(server.url + "/api/status")  # was: no answer until a read ended
        assert code == 200 and json.loads(body)["pnl"]["equity"] == "10004.25"
        code, text = call(server.url + "/metrics")
        assert code == 200 and "bot_equity_usdt" in text
        code, body = call(server.url + "/api/logs?symbol=BTC/USDT:USDT")
        assert code == 200, body
    finally:
        repo.release.set()
        for client in clients:
            client.join(30)
        server.stop()
    assert answers == [200] * REQUESTS
