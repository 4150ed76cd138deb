"""A bot whose database writer is still writing when it stops keeps its file locks until the
process exits. Found by review: the runner released every lock after closing the accounts even
when a writer thread was still busy (`Repository.close` gave up waiting for a stalled disk).
Closing the database lock's descriptor drops SQLite's own POSIX locks on that file, and a
second bot could open it while the first one's write was still in progress. Real bot in a
subprocess, paper account, SQLite; the write in progress is a unit of work that waits."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.support.configs import NO_DASHBOARD_CONSOLE_LOG, QUIET_PAPER, account

ROOT = Path(__file__).resolve().parents[2]

CONFIG = QUIET_PAPER + NO_DASHBOARD_CONSOLE_LOG + account("a", "BTC/USDT:USDT")


def test_database_lock_kept_while_its_writer_still_runs(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(CONFIG.format(data=tmp_path / "data"))
    out = subprocess.run([sys.executable, "-m", "tests.runtime.stalled_writer_bot", str(config)],
                         cwd=ROOT, capture_output=True, text=True, timeout=120)
    text = out.stdout + out.stderr
    assert "did not finish within" in text, text
    assert "database lock held" in text, text
    assert "still running: the locks are kept" in text, text
