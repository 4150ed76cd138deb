"""`risk.max_open_positions` across `kill -9` (real `python bot.py run` subprocesses): the
positions a killed bot held are counted by the next start before any of its actors may enter,
so entries queued for the other symbols are refused, journaled with the cap's reason."""

from __future__ import annotations

import json
import signal
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from storage import control
from tests.e2e.bot_process import start_bot, write_config
from tests.support.waiting import wait_until

SYMBOLS = ["BTC/USDT:USDT", "ETH/USDT:USDT", "SOL/USDT:USDT", "XRP/USDT:USDT",
           "DOGE/USDT:USDT", "ADA/USDT:USDT", "LINK/USDT:USDT", "AVAX/USDT:USDT"]
pytestmark = pytest.mark.slow


def _rows(db: Path, sql: str, *args: object) -> list[tuple]:
    with closing(sqlite3.connect(db, timeout=10)) as con:
        return con.execute(sql, args).fetchall()


def _queue_longs(db: Path, symbols: list[str]) -> None:
    for symbol in symbols:
        control.request_at(db, "signal", symbol, {"side": "long", "by": "test"})


def _done(db: Path) -> bool:
    return not _rows(db, "SELECT id FROM control WHERE done_at IS NULL")


def _capped(db: Path) -> list[str]:
    return [s for s, d in _rows(db, "SELECT symbol, data FROM events WHERE type='SignalSkipped'")
            if "risk.max_open_positions 2 reached" in json.loads(d)["reason"]]


def _opened(db: Path) -> list[str]:
    return [s for (s,) in _rows(db, "SELECT symbol FROM events WHERE type='PositionOpened'")]


def test_positions_held_at_a_kill_are_counted_by_the_next_start(tmp_path):
    data = tmp_path / "data"
    db = data / "bot.sqlite"
    config = write_config(tmp_path / "config.toml", SYMBOLS, bot={"status_interval_s": 0.1},
                          exchange={"poll_interval_s": 0.1}, strategy={"window": 10000},
                          risk={"max_open_positions": 2}, dashboard={"enabled": False},
                          paper={"latency_ms": 1, "step_ms": 100}, logging={"console": False})
    bot = start_bot(config, data)
    try:
        wait_until(lambda: db.exists() and _rows(db, "SELECT 1 FROM sqlite_master WHERE "
                                                     "name='control'"), timeout=60)
        _queue_longs(db, SYMBOLS)
        wait_until(lambda: len(_opened(db)) == 2 and len(_capped(db)) == 6
                   or bot.poll() is not None, timeout=90, interval=0.05, message="wave handled")
        assert bot.poll() is None
    finally:
        bot.send_signal(signal.SIGKILL)
        bot.communicate(timeout=60)
    held = set(_opened(db))
    assert len(held) == 2

    again = start_bot(config, data)
    try:
        _queue_longs(db, [s for s in SYMBOLS if s not in held])
        wait_until(lambda: _done(db) or again.poll() is not None, timeout=90, interval=0.1,
                   message="the signals after the restart applied")
        wait_until(lambda: len(_capped(db)) == 12 or again.poll() is not None, timeout=60,
                   message="the six later entries refused")
        assert again.poll() is None
        assert set(_opened(db)) == held and len(_opened(db)) == 2
    finally:
        again.send_signal(signal.SIGTERM)
        _, err = again.communicate(timeout=90)
    assert again.returncode == 0, err[-2000:]
