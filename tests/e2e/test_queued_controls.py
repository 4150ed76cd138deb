"""Issue 16 item 13 as users meet it (real subprocesses): a `signal` queued while the bot is
stopped is applied at the next start (not dropped with "actor not running"), and a control row
that cannot be read is marked with a one-line error naming the row without blocking the rows
after it."""

from __future__ import annotations

import sqlite3
import time

import pytest

from tests.e2e.bot_process import cli, start_bot, write_config

SYMBOLS = ["BTC/USDT:USDT", "ETH/USDT:USDT"]
pytestmark = pytest.mark.slow


def test_controls_queued_while_stopped_are_applied_at_start(tmp_path):
    data = tmp_path / "data"
    config = write_config(tmp_path / "config.toml", SYMBOLS, bot={"status_interval_s": 0.2},
                          exchange={"poll_interval_s": 0.1},
                          paper={"latency_ms": 1, "step_ms": 100}, logging={"console": False})
    first = cli(config, data, "signal", "BTC/USDT:USDT", "long", "--size", "200")
    assert first.returncode == 0 and "applied when the bot next starts" in first.stdout
    with sqlite3.connect(data / "bot.sqlite") as db:  # a row no version of the CLI would write
        bad_id = db.execute("INSERT INTO control (command, symbol, args, created_at) "
                            "VALUES ('signal', 'ETH/USDT:USDT', '{not json', ?)",
                            (time.time(),)).lastrowid
    last = cli(config, data, "signal", "ETH/USDT:USDT", "short")
    assert last.returncode == 0
    proc = start_bot(config, data, "--duration", "6")
    try:
        _, err = proc.communicate(timeout=90)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err[-2000:]
    with sqlite3.connect(data / "bot.sqlite") as db:
        rows = db.execute("SELECT id, symbol, done_at, result FROM control ORDER BY id").fetchall()
        skipped = db.execute("SELECT symbol, data FROM events WHERE type = 'SignalSkipped' "
                             "AND correlation_id LIKE 'cli-%'").fetchall()
        received = {r[0] for r in db.execute(
            "SELECT correlation_id FROM events WHERE type = 'SignalReceived'")}
    assert all(done_at is not None for _, _, done_at, _ in rows), rows
    results = {cid: result for cid, _, _, result in rows}
    assert results[bad_id].startswith(
        f"control row {bad_id} (signal ETH/USDT:USDT): unreadable args")
    good = [cid for cid in results if cid != bad_id]
    assert [results[cid] for cid in good] == ["delivered", "delivered"]
    assert {f"cli-{cid}" for cid in good} <= received and skipped == [], skipped
    log = (data / "logs" / "bot.log").read_text()
    assert "Traceback" not in log
    assert sum(f"control row {bad_id}" in line for line in log.splitlines()) == 1
