"""`[accounts.risk]` (or `[accounts]`) written without a `[[accounts]]` entry before it was
refused as `config.toml: accounts: expected an array` (found by review): no line, although the
file's line 3 sets it, and no word of the double brackets an account needs. A problem with a
key the file sets only through a table below it is now found at that table's line, and an
array of tables given as one table names the `[[...]]` form. Real file, real `bot.py`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from config.errors import ConfigError
from config.loader import load_settings

ROOT = Path(__file__).resolve().parents[2]
TEXT = '[symbols]\nlist = ["BTC/USDT:USDT"]\n\n[accounts.risk]\nleverage = 3\n'
LINE = ("c.toml:4: accounts: expected an array of tables: begin each entry with [[accounts]] "
        "(two brackets)")


def test_the_line_and_the_double_brackets_are_named(tmp_path: Path):
    (tmp_path / "c.toml").write_text(TEXT)
    with pytest.raises(ConfigError) as info:
        load_settings(tmp_path / "c.toml")
    assert str(info.value) == f"{tmp_path}/{LINE}"


def test_the_start_says_so_in_one_line(tmp_path: Path):
    (tmp_path / "c.toml").write_text(TEXT)
    done = subprocess.run([sys.executable, str(ROOT / "bot.py"), "status", "--config",
                           "c.toml"], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert (done.returncode, done.stderr) == (2, f"bot.py: error: {LINE}\n")
