"""`bot_stop_coverage_ratio` counts each unreadable symbol as an open position without a known
stop (README, Metrics: protected / (open + unreadable symbols)), also when a status written
before that rule says `ts_coverage` 1.0 (real aiohttp server on 127.0.0.1 serving the status
file, the Prometheus text parsed by its own parser).

The only test of it had nothing open (0 / (0 + 2) and 0 / 0 read alike), so a coverage that
left the unknown positions out (1 open and protected, 1 symbol unreadable: 1.0, all clear)
passed every test: found by mutation audit. A rule on `bot_stop_coverage_ratio < 1` is what
tells a person that a position on the exchange may have no stop."""

from __future__ import annotations

import time

from supervision.status import write_status
from tests.dashboard.test_metrics_restoring import held, scrape
from tests.dashboard.test_page_warnings import actor, status


def test_an_unreadable_symbol_beside_a_protected_position_halves_the_coverage(tmp_path):
    actors = [held("ETH/USDT:USDT", reconciled=True),
              actor("BTC/USDT:USDT", "quarantined", "restore")]
    health = {"open_positions": 1, "protected_positions": 1, "ts_coverage": 1.0,
              "unreadable_symbols": 1}  # as an older version wrote it
    write_status(tmp_path, status(beat=time.time(), actors=actors, health=health))
    got = scrape(tmp_path)
    assert got["bot_unreadable_symbols"] == {"main": 1.0}
    assert got["bot_stop_coverage_ratio"] == {"main": 0.5}  # 1 protected of 1 open + 1 unknown
