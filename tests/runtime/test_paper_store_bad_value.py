"""A damaged value in the paper exchange's store is one line naming the table, the row and the
column, not Python's name for the parse failure.

Found by running `bot.py` on a store whose ETH price checkpoint read 'abc': the start was
refused with `paper exchange store unreadable (InvalidOperation: [<class
'decimal.ConversionSyntax'>])`, which names no table, symbol or value."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _bot(config: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(ROOT / "bot.py"), "--config", str(config),
                           "--duration", "2"], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)


@pytest.mark.parametrize(("update", "named"), [
    ("UPDATE prices SET price = 'abc' WHERE symbol = 'ETH/USDT:USDT'",
     "prices ETH/USDT:USDT: price 'abc' is not a number"),
    ("UPDATE markets SET initial_price = '1,5' WHERE symbol = 'BTC/USDT:USDT'",
     "markets BTC/USDT:USDT: initial_price '1,5' is not a number"),
    ("INSERT INTO positions VALUES ('BTC/USDT:USDT', 'long', 'x1', '50000', 0)",
     "positions BTC/USDT:USDT long: qty 'x1' is not a number"),
    ("UPDATE balance SET wallet = ''", "balance USDT: wallet '' is not a number"),
])
def test_a_damaged_paper_store_value_names_its_row_and_column(tmp_path, update, named):
    config = tmp_path / "c.toml"
    config.write_text('[bot]\ndata_dir = "d"\n'
                      '[symbols]\nlist = ["BTC/USDT:USDT", "ETH/USDT:USDT"]\n'
                      "[dashboard]\nenabled = false\n[logging]\nconsole = false\n")
    first = _bot(config)
    assert first.returncode == 0, first.stderr
    store = tmp_path / "d" / "paper_exchange.sqlite"
    with sqlite3.connect(store) as con:
        con.execute(update)
    con.close()
    done = _bot(config)
    assert done.returncode == 2, done.stderr
    assert done.stderr == (f"bot.py: error: {store}: paper exchange store unreadable: {named}; "
                           "move it aside to start a fresh paper account\n"), done.stderr
