"""/metrics counts the symbols whose holdings are not known yet at a start: actors still
restoring their state, and running symbols holding a position not reconciled with the exchange.

Found by review: the status dump, the table and Telegram's /status flag both (`restoring n
symbols (not counted yet)`, `NOT RECONCILED with the exchange`), but /metrics had no sample for
either: after a restart with 20 actors still starting it read `bot_open_positions 0` and
`bot_stop_coverage_ratio 1`, all-clear, and no rule could tell. A real dashboard server on
127.0.0.1 reading a status file as the bot writes it, scraped over HTTP."""

from __future__ import annotations

import time
from typing import Any

from loguru import logger

from dashboard.auth import Auth
from dashboard.server import DashboardServer
from dashboard.source import DashboardSource
from observability.metrics import BotMetrics
from supervision.status import _health, write_status
from tests.dashboard.test_metrics_without_status import samples
from tests.dashboard.test_page_warnings import actor, status
from tests.dashboard.test_server import TOKEN, call


def held(symbol: str, reconciled: bool) -> dict[str, Any]:
    """A running symbol holding a long position, checked against the exchange or not yet."""
    position = {"side": "long", "contracts": "1", "entry_price": "100", "mark_price": "100",
                "unrealized_pnl": "0"}
    return {**actor(symbol), "phase": "open", "position": position, "protected": True,
            "reconciled": reconciled}


def scrape(data_dir: Any) -> dict[str, dict[str, float]]:
    source = DashboardSource(data_dir=data_dir, accounts=[], running=lambda: True)
    server = DashboardServer(source=source, auth=Auth(token=TOKEN, host="127.0.0.1"),
                             logger=logger, metrics=BotMetrics(snapshot=source.status).render)
    server.start()
    try:
        code, body = call(server.url + "/metrics")
        assert code == 200, body
        return samples(body)
    finally:
        server.stop()


def test_metrics_count_the_symbols_restoring_and_the_positions_not_reconciled(tmp_path):
    actors = [held("BTC/USDT:USDT", reconciled=False), held("ETH/USDT:USDT", reconciled=True),
              {**actor("SOL/USDT:USDT", "starting"), "phase": None}]
    health = _health(open_positions=2, protected=2, unreadable=0, restoring=3)
    write_status(tmp_path, status(beat=time.time(), actors=actors, health=health))
    got = scrape(tmp_path)
    assert got["bot_stop_coverage_ratio"] == {"main": 1.0}  # what is known is covered
    assert got.get("bot_restoring_symbols") == {"main": 3.0}
    assert got.get("bot_unreconciled_positions") == {"main": 1.0}


def test_a_status_of_an_older_version_reads_no_restoring_symbols(tmp_path):
    health = {"open_positions": 0, "protected_positions": 0, "ts_coverage": 1.0,
              "unreadable_symbols": 0}  # written before restoring_symbols existed
    write_status(tmp_path, status(beat=time.time(), actors=[actor("BTC/USDT:USDT")],
                                  health=health))
    got = scrape(tmp_path)
    assert got.get("bot_restoring_symbols") == {"main": 0.0}
    assert got.get("bot_unreconciled_positions") == {"main": 0.0}
