"""Issue 16 item 13 as users meet it (real subprocesses): a `signal` queued while the bot is
stopped is applied at the next start (not dropped with "actor not running"), and a control row
that cannot be read is marked with a one-line error naming the row without blocking the rows
after it."""

from __future__ import annotations

import signal
import sqlite3
import time
from contextlib import closing
from pathlib import Path

import pytest

from tests.e2e.bot_process import cli, start_bot, write_config
from tests.support.waiting import wait_until

SYMBOLS = ["BTC/USDT:USDT", "ETH/USDT:USDT"]
pytestmark = pytest.mark.slow


def all_done(db_path) -> bool:  # noqa: ANN001
    """Every control row applied (marked done). The supervisor journals SignalReceived before
    it tells the actor, and the control runner marks the row done after: done implies it."""
    with closing(sqlite3.connect(db_path, timeout=10)) as db:
        left = db.execute("SELECT COUNT(*) FROM control WHERE done_at IS NULL").fetchone()[0]
    return left == 0


def run_until_every_control_applied(config: Path, data: Path, message: str) -> None:
    """`bot.py run` until every queued control row is applied (or the bot exited), then a
    SIGTERM: it exits 0. Stopped once every row is applied, not after a fixed --duration: the
    run loop's clock starts while the actors may still be starting, and a signal waits
    (pending) until its actor runs: with 6 s, actors slow to start on a loaded machine left
    rows not done."""
    proc = start_bot(config, data)
    try:
        wait_until(lambda: all_done(data / "bot.sqlite") or proc.poll() is not None,
                   timeout=90, interval=0.2, message=message)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=90)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err[-2000:]


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
    run_until_every_control_applied(config, data, "every queued control applied")
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
