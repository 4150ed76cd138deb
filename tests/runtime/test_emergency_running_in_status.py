"""The status dump says an owed emergency close is running while its thread is at work on the
exchange (`emergency_closes_owed[].running`, and the table's "running"): found by the shutdown
mutation audit, `"running": False` in runtime/emergency_status.py passed every test, and the
table then told a person "not running now: the next start runs it" about a close in flight.
Real AccountRuntime, paper exchange, SQLite, actors and closer thread; the venue's position read
hangs on the close's thread only (tests/support/faulty_exchange.py)."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from loguru import logger

from config.loader import load_settings
from runtime.account import AccountRuntime
from runtime.emergency import OWED
from runtime.exchanges import build_paper
from supervision.status_view import _owed
from tests.support.configs import QUIET_PAPER, account
from tests.support.faulty_exchange import FaultyExchange
from tests.support.waiting import wait_until

BTC = "BTC/USDT:USDT"
REASON = "close failed 3 times"


def test_an_owed_close_in_flight_is_shown_running(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text((QUIET_PAPER + account("a", BTC)).format(data=tmp_path / "data"))
    settings = load_settings(config)
    release, in_close = threading.Event(), threading.Event()

    def hang_in_close(name: str, args: tuple, kwargs: dict) -> None:
        if threading.current_thread().name.startswith("emergency-"):
            in_close.set()
            release.wait(60)

    def build(s: Any, data_dir: Path) -> FaultyExchange:
        fx = FaultyExchange(build_paper(s, data_dir))
        fx.before["fetch_positions"] = hang_in_close
        return fx

    runtime = AccountRuntime(settings.account_settings()[0], settings.data_dir_path(),
                             logger=logger, tagged=True, build_exchange_=build)
    try:
        runtime.open()
        assert runtime.repo is not None
        runtime.build()
        runtime.start()
        assert runtime.closer is not None
        runtime.repo.set_meta(OWED + BTC, REASON)  # as the core commits it with its escalation
        runtime.closer.close(BTC, REASON)
        wait_until(in_close.is_set, timeout=30, message="the emergency close waits on the venue")
        [entry] = runtime.status({"pid": 1, "running": True}, time.time())[
            "emergency_closes_owed"]
        assert entry["symbol"] == BTC and entry["running"] is True, entry
        assert "running" in _owed(entry).plain and "not running" not in _owed(entry).plain
    finally:
        release.set()
        if runtime.closer is not None:
            runtime.closer.wait()
        runtime.stop()
        runtime.close()
