"""Issue 12 item 8: control writes (`bot.py signal`) while the bot runs never fail with
"database is locked". A real bot process trading on the paper exchange (fast prices, many
commits), 200 control writes at once: 190 through the function the CLI uses, from 16 threads,
and 10 real `bot.py signal` processes alongside; every write succeeds and the bot applies all."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from storage.control import request_at
from tests.e2e.bot_process import ROOT, start_bot, wait_status, write_config
from tests.support.waiting import wait_until

pytestmark = pytest.mark.slow
SYMBOLS = ["BTC/USDT:USDT", "ETH/USDT:USDT", "SOL/USDT:USDT", "XRP/USDT:USDT"]


def test_two_hundred_control_writes_under_load_all_land(tmp_path):
    data = tmp_path / "data"
    config = write_config(tmp_path / "config.toml", SYMBOLS, bot={"status_interval_s": 0.2},
                          exchange={"poll_interval_s": 0.05},
                          paper={"latency_ms": 1, "step_ms": 50}, logging={"console": False})
    proc = start_bot(config, data)
    try:
        wait_status(config, data, lambda s: all(a["state"] == "running" for a in s["actors"]),
                    message="actors running")
        db = data / "bot.sqlite"
        errors: list[str] = []
        lock = threading.Lock()

        def write(i: int) -> None:
            side = "long" if i % 2 else "short"
            try:
                request_at(db, "signal", SYMBOLS[i % len(SYMBOLS)], {"by": "cli", "side": side})
            except Exception as exc:  # noqa: BLE001 - collected and asserted below
                with lock:
                    errors.append(f"{type(exc).__name__}: {exc}")

        clis = [subprocess.Popen(
            [sys.executable, str(ROOT / "bot.py"), "signal", SYMBOLS[i % len(SYMBOLS)], "long",
             "--config", str(config), "--data-dir", str(data)], cwd=ROOT,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for i in range(10)]
        with ThreadPoolExecutor(16) as pool:
            list(pool.map(write, range(190)))
        outs = [c.communicate(timeout=120) for c in clis]
        assert errors == []
        assert [c.returncode for c in clis] == [0] * 10, [o[1][-300:] for o in outs]
        assert not any("locked" in out + err for out, err in outs)

        def applied() -> bool:
            with sqlite3.connect(db, timeout=10) as con:
                rows = con.execute("SELECT COUNT(*), COUNT(done_at) FROM control").fetchone()
            return rows[0] == 200 and rows[1] == 200

        wait_until(applied, timeout=90, interval=0.5, message="all 200 controls applied")
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err[-2000:]
    finally:
        if proc.poll() is None:
            proc.kill()
