"""A paper store kept in the other position mode (an order open in one-way mode, a config now
trading the hedge grid with `exchange.hedge_mode = true`) is refused at start as the loader
words its refusals: `file:line: key = value: ...`, the line that sets hedge_mode, and with
[[accounts]] the account's key (real `python bot.py run` subprocesses). Found by review:
'bot.py: error: exchange.hedge_mode = true: ... is a one-way paper account ...' named no file,
no line, and with several accounts not which account's hedge_mode."""

from __future__ import annotations

import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import pytest

from exchange.paper import PaperExchange
from exchange.paper.prices import GeneratorPriceSource

REPO = Path(__file__).resolve().parents[2]
BTC = "BTC/USDT:USDT"
GRID = ('[strategy]\nname = "hedge_grid"\n[risk]\nstop_loss_pct = 8\n[exchange]\nid = "paper"\n'
        'hedge_mode = true\n[symbols]\nlist = ["BTC/USDT:USDT"]\n')
TWO = ('[bot]\nmode = "paper"\n[[accounts]]\nname = "solo"\n[accounts.symbols]\n'
       'list = ["BTC/USDT:USDT"]\n[[accounts]]\nname = "grid"\n[accounts.strategy]\n'
       'name = "hedge_grid"\n[accounts.risk]\nstop_loss_pct = 8\n[accounts.exchange]\n'
       'id = "paper"\nhedge_mode = true\n[accounts.symbols]\nlist = ["BTC/USDT:USDT"]\n')


def _one_way_store_with_an_open_order(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    source = GeneratorPriceSource(seed=1, epoch_ms=int(time.time() * 1000))
    exchange = PaperExchange(store_path=path, symbols=[BTC], price_source=source)
    try:
        exchange.create_order(BTC, "limit", "buy", Decimal("0.01"), Decimal("1000"))
    finally:
        exchange.close()


@pytest.mark.parametrize(("text", "store", "line", "start"), [
    ('[bot]\nmode = "paper"\n' + GRID, "paper_exchange.sqlite", 9,
     "exchange.hedge_mode = true: "),
    (TWO, "accounts/grid/paper_exchange.sqlite", 15, "accounts[1].exchange.hedge_mode = true: "),
])
def test_a_store_in_the_other_position_mode_is_refused_naming_the_file_and_line(
        tmp_path: Path, text: str, store: str, line: int, start: str):
    config = tmp_path / "config.toml"
    config.write_text(text)
    _one_way_store_with_an_open_order(tmp_path / "data" / store)
    done = subprocess.run([sys.executable, str(REPO / "bot.py"), "--config", str(config), "run",
                           "--data-dir", str(tmp_path / "data"), "--duration", "30"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stderr
    last = done.stderr.splitlines()[-1]
    assert last.startswith(f"bot.py: error: {config}:{line}: {start}"), done.stderr
    assert "one-way paper account" in last, done.stderr
