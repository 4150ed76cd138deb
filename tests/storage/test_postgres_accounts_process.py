"""Several accounts of one `python bot.py run` on one PostgreSQL database: a one-way account and
a hedge-grid account, each in its own schema; a manual signal lands in its account's schema
only, the grid's legs and state document in the grid's."""

from __future__ import annotations

import signal

import psycopg
import pytest

from tests.e2e.bot_process import cli, start_bot, wait_status
from tests.support.postgres import pg_url  # noqa: F401 - the fixture

ETH = "ETH/USDT:USDT"
pytestmark = pytest.mark.slow

CONFIG = """
[bot]
status_interval_s = 0.2
[exchange]
poll_interval_s = 0.1
[strategy]
window = 10000
entry_z = 5.0
exit_z = 0.1
[paper]
latency_ms = 1
step_ms = 100
[logging]
console = false
[storage]
url = "{url}"
[[accounts]]
name = "alpha"
symbols.list = ["BTC/USDT:USDT", "ETH/USDT:USDT"]
[[accounts]]
name = "grid"
symbols.list = ["ETH/USDT:USDT"]
exchange.hedge_mode = true
strategy.name = "hedge_grid"
strategy.grid.levels = 3
strategy.grid.step_pct = 0.5
strategy.grid.take_profit_pct = 0.3
strategy.grid.recalc_pct = 1.0
risk.stop_loss_pct = 3.0
"""


def rows(url: str, account: str, sql: str) -> list[tuple]:
    with psycopg.connect(url, autocommit=True, options=f"-c search_path=bot_{account}") as con:
        return con.execute(sql).fetchall()


def settled(s: dict) -> bool:
    alpha = next(a for a in s["accounts"]["alpha"]["actors"] if a["symbol"] == ETH)
    grid = s["accounts"]["grid"]["actors"][0]
    return (bool(alpha["position"]) and alpha["protected"] and bool(grid["position"])
            and len(grid["position"]["legs"]) == 2 and grid["protected"])


def test_accounts_keep_their_rows_in_their_own_schemas(tmp_path, pg_url):  # noqa: F811
    config = tmp_path / "config.toml"
    config.write_text(CONFIG.format(url=pg_url))
    data = tmp_path / "data"
    proc = start_bot(config, data)
    try:
        wait_status(config, data, lambda s: s["bot"]["running"] and all(
            a["state"] == "running" and a["reconciled"] and a["last_tick_age_s"] is not None
            for a in s["actors"]), timeout=90, message="both accounts running with prices")
        sent = cli(config, data, "signal", ETH, "short", "--account", "alpha")
        assert sent.returncode == 0, sent.stderr
        wait_status(config, data, settled, timeout=90,
                    message="alpha's ETH short and the grid's two legs open and protected")
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err[-2000:]
    finally:
        if proc.poll() is None:
            proc.kill()
    open_sql = "SELECT symbol, side FROM positions WHERE status = 'open' ORDER BY side"
    assert rows(pg_url, "alpha", open_sql) == [(ETH, "short")]
    assert rows(pg_url, "grid", open_sql) == [(ETH, "long"), (ETH, "short")]
    assert rows(pg_url, "grid", "SELECT symbol FROM grid_state") == [(ETH,)]
    assert rows(pg_url, "alpha", "SELECT count(*) FROM grid_state") == [(0,)]
    received = "SELECT count(*) FROM events WHERE type = 'SignalReceived'"
    assert rows(pg_url, "alpha", received) == [(1,)] and rows(pg_url, "grid", received) == [(0,)]
    assert rows(pg_url, "alpha", "SELECT result FROM control") == [("delivered",)]
    assert rows(pg_url, "grid", "SELECT count(*) FROM control") == [(0,)]
    assert not list(data.rglob("bot.sqlite*"))
