"""`bot.py status --data-dir notes.txt/data` (a data dir below a file, a typo of a path)
answered `unexpected NotADirectoryError in status: [Errno 20] Not a directory: '.../bot.lock'`
and tried to write a traceback there too (found by review): no lock file can exist below a
file, so no bot runs there; the answer is the usual one line that there is no status, exit 2.
Real files, real `python bot.py` subprocess."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from supervision.instance_lock import is_locked

ROOT = Path(__file__).resolve().parents[2]


def test_no_lock_below_a_file_is_not_locked(tmp_path: Path):
    (tmp_path / "notes.txt").write_text("x")
    assert is_locked(tmp_path / "notes.txt" / "data" / "bot.lock") is False


def test_status_of_a_data_dir_below_a_file_is_one_plain_line(tmp_path: Path):
    (tmp_path / "notes.txt").write_text("x")
    config = tmp_path / "c.toml"
    config.write_text('[symbols]\nlist = ["BTC/USDT:USDT"]\n')
    data_dir = tmp_path / "notes.txt" / "data"
    done = subprocess.run([sys.executable, str(ROOT / "bot.py"), "status", "--config",
                           str(config), "--data-dir", str(data_dir)], capture_output=True,
                          text=True, timeout=120, cwd=tmp_path)
    assert (done.returncode, done.stderr) == (
        2, f"bot.py: error: no status yet in {data_dir} (has the bot run with this data dir?)\n")
