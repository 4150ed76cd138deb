"""The status a stopped bot leaves behind shows its P&L to the last fill.

The P&L block comes from the protections' ledger totals, which only the run loop's pass
(every `bot.status_interval_s`) brought up to date, and that pass stops before the actors
finish their last messages. So `bot.py status` after a stop showed the totals of the last pass:
trades since then missing (found by review). The final status is written after the actors
stopped and the totals caught up with the ledger.

A real `python bot.py run` in paper mode; the interval is long, so the only pass before the
stop ran at start, with nothing booked yet; the test stops the bot once the ledger has a closed
position, then compares the status with the ledger's own sums.
"""

from __future__ import annotations

import signal
import sqlite3
import subprocess
from decimal import Decimal
from pathlib import Path

import pytest

from tests.e2e.bot_process import log_tails, start_bot, status_now, write_config
from tests.support.waiting import wait_until

pytestmark = pytest.mark.slow
SYMBOLS = ["BTC/USDT:USDT", "ETH/USDT:USDT"]


def ledger(db_path) -> tuple[Decimal, Decimal, int]:  # noqa: ANN001
    """Gross realized, fees and closed positions, as the ledger and positions tables hold them."""
    with sqlite3.connect(f"file:{db_path}?mode=ro", uri=True) as conn:
        fills = conn.execute("SELECT realized_pnl, fee FROM fills").fetchall()
        closed = conn.execute("SELECT count(*) FROM positions WHERE status = 'closed'").fetchone()
    return (sum((Decimal(r) for r, _ in fills), Decimal(0)),
            sum((Decimal(f) for _, f in fills), Decimal(0)), closed[0])


def _config(tmp_path: Path) -> Path:
    """Paper trading that closes positions within seconds; the status pass every 60 s (the
    longest): one pass at start, the next in a minute."""
    return write_config(
        tmp_path / "config.toml", SYMBOLS,
        bot={"status_interval_s": 60},
        exchange={"poll_interval_s": 0.1},
        strategy={"window": 10, "entry_z": 1.0, "exit_z": 0.2, "min_volatility_pct": 0},
        risk={"cooldown_after_loss_s": 0},
        paper={"latency_ms": 1, "step_ms": 100, "speed": 600.0},
        logging={"console": False},
    )


def _stop_after_a_close(proc: subprocess.Popen, db: Path, *, timeout: float, message: str,
                        stop_timeout: float) -> None:
    """Wait for a closed position in the ledger at `db` (the bot still running), then SIGTERM
    the bot and wait for its exit (killed if it has not exited)."""
    try:
        def closed() -> bool:
            assert proc.poll() is None, proc.communicate()[1][-2000:]
            try:
                return db.exists() and ledger(db)[2] >= 1
            except sqlite3.OperationalError as exc:  # the file is made before its tables
                if "no such table" in str(exc):
                    return False
                raise

        wait_until(closed, timeout=timeout, interval=0.2, message=message)
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=stop_timeout)
    finally:
        if proc.poll() is None:
            proc.kill()


def test_the_status_after_a_stop_counts_every_fill(tmp_path):
    data = tmp_path / "data"
    proc = start_bot(_config(tmp_path), data)
    _stop_after_a_close(proc, data / "bot.sqlite", timeout=50,
                        message="a closed position in the ledger", stop_timeout=60)
    assert proc.returncode == 0, log_tails(data)
    gross, fees, closed = ledger(data / "bot.sqlite")
    s = status_now(data)
    assert s is not None and s["bot"]["running"] is False
    pnl = s["pnl"]
    assert closed >= 1 and pnl["wins"] + pnl["losses"] == closed, (pnl, closed)
    assert (Decimal(pnl["gross_realized"]), Decimal(pnl["fees"])) == (gross, fees), pnl


def test_the_status_after_a_stop_with_workers_counts_every_fill(tmp_path):
    """The same with `run --workers 2`: each worker writes its final snapshot once its actors
    stopped; the parent's final status.json is merged after every worker exited, and kept the
    snapshots read on its last pass instead (found by review: with a long interval, none)."""
    config = _config(tmp_path)
    config.write_text(config.read_text() + '[[accounts]]\nname = "alpha"\n'
                      '[[accounts]]\nname = "beta"\nsymbols.list = ["XRP/USDT:USDT"]\n')
    data = tmp_path / "data"
    proc = start_bot(config, data, "--workers", "2")
    db = data / "accounts" / "alpha" / "bot.sqlite"
    _stop_after_a_close(proc, db, timeout=60, message="a closed position in alpha's ledger",
                        stop_timeout=90)
    assert proc.returncode == 0, log_tails(data)
    gross, fees, closed_count = ledger(db)
    s = status_now(data)
    assert s is not None and s["bot"]["running"] is False
    assert sorted(s["accounts"]) == ["alpha", "beta"], s["accounts"].keys()
    pnl = s["accounts"]["alpha"]["pnl"]
    assert closed_count >= 1 and pnl["wins"] + pnl["losses"] == closed_count, (pnl, closed_count)
    assert (Decimal(pnl["gross_realized"]), Decimal(pnl["fees"])) == (gross, fees), pnl
