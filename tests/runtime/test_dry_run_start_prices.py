"""Dry-run (README, Trading live: "how to try a configuration before risking money") opens its
paper books at the venue's live prices. A venue that does not answer the price read at start
(down, unreachable, an error answer) stopped the start with "unexpected BadRequest in run: ...
(traceback in bot.log)", the line of a bug in the bot; it is now one startup line naming the
exchange, the read and where to look (exit 2), as live mode's markets load says it."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from tests.e2e.bot_process import ROOT, write_config
from tests.exchange.ccxt.ccxt_fixtures import PRICES
from tests.exchange.ccxt.emu_book import Book
from tests.exchange.ccxt.emu_bybit import BybitVenue
from tests.exchange.ccxt.emu_server import EmulatorServer

BTC = "BTC/USDT:USDT"


def test_a_venue_that_refuses_the_opening_price_read_is_one_startup_line(tmp_path: Path) -> None:
    book = Book(PRICES, now_ms=int(time.time() * 1000))
    with EmulatorServer(BybitVenue(book)) as http:
        http.fail_next("/v5/market/tickers", 1000, body={
            "retCode": 10001, "retMsg": "params error", "result": {}, "retExtInfo": {},
            "time": book.now_ms})
        config = write_config(tmp_path / "c.toml", [BTC], bot={"mode": "dry-run"},
                              exchange={"id": "bybit", "api_url": http.base_url},
                              dashboard={"enabled": False})
        done = subprocess.run(
            [sys.executable, str(ROOT / "bot.py"), "run", "--config", str(config),
             "--data-dir", str(tmp_path / "data"), "--duration", "1"],
            cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stderr
    line = done.stderr.strip().splitlines()[-1]
    assert "unexpected" not in line
    assert line.startswith("bot.py: error: exchange bybit: no live price to open the dry run's "
                           "paper books with (BadRequest: "), line
    assert "check the network and exchange.api_url" in line
