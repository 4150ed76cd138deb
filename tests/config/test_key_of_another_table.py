"""A key written under the wrong table is named with the table it belongs to. Found by review:
`[risk] max_size_usdt = 500` (the signals' size cap) answered "did you mean order_size_usdt?",
steering the user to the order size, because a close spelling in the same table won over the
exact key in another; and the grid's tables had no hint at all (`[strategy] levels`,
`[strategy.grid] window`: only "unknown key"). Real files through the loader and `bot.py`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from config.errors import ConfigError
from config.loader import load_settings

ROOT = Path(__file__).resolve().parents[2]
SYMBOLS = '[symbols]\nlist = ["BTC/USDT:USDT"]\n'


@pytest.mark.parametrize("table, key, home", [
    ("risk", "max_size_usdt", "[signals]"),
    ("strategy", "levels", "[strategy.grid]"),
    ("strategy.grid", "window", "[strategy]"),
    ("strategy", "take_profit_pct", "[strategy.grid], [risk]"),
])
def test_the_table_the_key_belongs_to_is_named(tmp_path: Path, table: str, key: str, home: str):
    (tmp_path / "c.toml").write_text(f"{SYMBOLS}[{table}]\n{key} = 3\n")
    with pytest.raises(ConfigError) as info:
        load_settings(tmp_path / "c.toml")
    line = str(info.value)
    assert line.startswith(f"{tmp_path / 'c.toml'}:4: {table}.{key}: unknown key (allowed: ")
    assert line.endswith(f"; {key} is a key of {home}")
    assert "did you mean" not in line


def test_a_misspelling_still_gets_its_suggestion(tmp_path: Path):
    (tmp_path / "c.toml").write_text(f"{SYMBOLS}[risk]\nlevrage = 3\n")
    done = subprocess.run([sys.executable, str(ROOT / "bot.py"), "status", "--config",
                           "c.toml"], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.startswith("bot.py: error: c.toml:4: risk.levrage: unknown key")
    assert done.stderr.endswith("; did you mean leverage?\n")
