"""A config file with a byte that is not UTF-8 (a Latin-1 "é" in a comment, saved by an old
editor) was refused as `config.toml: not valid UTF-8 (byte offset 45)` (found by review): no
line, so the user had to count bytes to find it in a file of 200 lines. The line now says
`file:LINE:` as every other config error does. Real file, real `python bot.py` subprocess."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from config.errors import ConfigError
from config.loader import read_toml

ROOT = Path(__file__).resolve().parents[2]
TEXT = b'[symbols]\nlist = ["BTC/USDT:USDT"]\n[risk]\n# caf\xe9\nleverage = 5\n'


def test_the_line_of_the_byte_is_named(tmp_path: Path):
    path = tmp_path / "c.toml"
    path.write_bytes(TEXT)
    with pytest.raises(ConfigError) as info:
        read_toml(path)
    assert str(info.value) == f"{path}:4: not valid UTF-8 (line 4, byte offset 47)"


def test_with_a_byte_order_mark_too(tmp_path: Path):
    path = tmp_path / "c.toml"
    path.write_bytes(b"\xef\xbb\xbf" + TEXT)
    with pytest.raises(ConfigError, match=r"c\.toml:4: not valid UTF-8 \(line 4, "):
        read_toml(path)


def test_the_start_says_so_in_one_line(tmp_path: Path):
    (tmp_path / "c.toml").write_bytes(TEXT)
    done = subprocess.run([sys.executable, str(ROOT / "bot.py"), "status", "--config",
                           "c.toml"], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert (done.returncode, done.stderr) == (
        2, "bot.py: error: c.toml:4: not valid UTF-8 (line 4, byte offset 47)\n")
