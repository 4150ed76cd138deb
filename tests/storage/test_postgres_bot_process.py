"""The bot as users run it with `storage.url` on a real PostgreSQL server: `python bot.py run`
in paper mode, a manual signal (`bot.py signal`) opens a protected position, kill -9, restart:
the state comes back from PostgreSQL (same position, its stop, a new incarnation), and nothing
of the bot's was written to a SQLite file."""

from __future__ import annotations

import os
import signal

import psycopg
import pytest

from tests.e2e.bot_process import cli, start_bot, wait_status, write_config
from tests.support.postgres import pg_url  # noqa: F401 - the fixture

SYMBOLS = ["BTC/USDT:USDT", "ETH/USDT:USDT"]
ETH = "ETH/USDT:USDT"
pytestmark = pytest.mark.slow


def rows(url: str, sql: str) -> list[tuple]:
    with psycopg.connect(url, autocommit=True, options="-c search_path=bot_main") as con:
        return con.execute(sql).fetchall()


def ready(s: dict) -> bool:
    return all(a["state"] == "running" and a["reconciled"] and a["last_tick_age_s"] is not None
               for a in s["actors"])


def protected(s: dict) -> bool:
    return ready(s) and s["health"]["open_positions"] == 1 and s["health"]["ts_coverage"] == 1.0


def test_protected_position_survives_kill_9_in_postgresql(tmp_path, pg_url):  # noqa: F811
    config = write_config(
        tmp_path / "config.toml", SYMBOLS,
        bot={"status_interval_s": 0.2}, exchange={"poll_interval_s": 0.1},
        strategy={"window": 10000, "entry_z": 5.0, "exit_z": 0.1},  # the strategy stays quiet
        paper={"latency_ms": 1, "step_ms": 100}, logging={"console": False},
        storage={"url": pg_url},
    )
    data = tmp_path / "data"
    proc = start_bot(config, data)
    try:
        wait_status(config, data, ready, timeout=90, message="running with prices")
        queued = cli(config, data, "signal", ETH, "long", "--size", "200")
        assert queued.returncode == 0, queued.stderr
        s = wait_status(config, data, protected, timeout=60, message="protected position")
        eth = next(a for a in s["actors"] if a["symbol"] == ETH)
        assert eth["position"]["side"] == "long"
        (position,) = rows(pg_url, "SELECT position_id FROM positions WHERE status = 'open'")
        stops = rows(pg_url, "SELECT client_order_id FROM orders WHERE purpose = 'stop' "
                             "AND status = 'open'")
        assert len(stops) == 1
        (incarnation,) = rows(pg_url, f"SELECT incarnation FROM actor_state "
                                      f"WHERE symbol = '{ETH}'")
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        proc = start_bot(config, data)
        s = wait_status(config, data, lambda s: s["bot"].get("pid") == proc.pid and protected(s),
                        timeout=90, message="restored position in the new process")
        eth = next(a for a in s["actors"] if a["symbol"] == ETH)
        assert eth["position"]["side"] == "long"
        assert rows(pg_url, "SELECT position_id FROM positions WHERE status = 'open'") == [
            position]
        assert rows(pg_url, "SELECT client_order_id FROM orders WHERE purpose = 'stop' "
                            "AND status = 'open'") == stops
        (again,) = rows(pg_url, f"SELECT incarnation FROM actor_state WHERE symbol = '{ETH}'")
        assert again[0] > incarnation[0]
        # restored from its own rows, not adopted from the exchange as an unknown position
        assert rows(pg_url, "SELECT count(*) FROM events WHERE type = 'PositionAdopted'") == [
            (0,)]
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err[-2000:]
    finally:
        if proc.poll() is None:
            proc.kill()
    assert not list(data.rglob("bot.sqlite*"))  # the bot's storage lives in PostgreSQL only
    assert "Traceback" not in (data / "logs" / "bot.log").read_text()
