"""A stop whose databases stall (a full or hung disk under every account) closes the accounts
together, each writer getting its 30 s at the same time. Found by review: the runner closed them
one after the other, so N accounts took N x 30 s after their stop; a worker of 2 such accounts
needed 60 + 60 s, more than the 105 s its parent waits before SIGKILL, which then cut its last
lines ("bot stopped", the writers' own) and the later accounts' last commits. Real bot in a
subprocess, paper accounts, SQLite; each account's close waits until every close has begun."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.support.configs import NO_DASHBOARD_CONSOLE_LOG, QUIET_PAPER, account

ROOT = Path(__file__).resolve().parents[2]

CONFIG = (QUIET_PAPER + NO_DASHBOARD_CONSOLE_LOG + account("a", "BTC/USDT:USDT")
          + account("b", "ETH/USDT:USDT"))


def test_accounts_close_together_not_one_after_the_other(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(CONFIG.format(data=tmp_path / "data"))
    out = subprocess.run([sys.executable, "-m", "tests.runtime.stalled_writers_bot", str(config)],
                         cwd=ROOT, capture_output=True, text=True, timeout=120)
    text = out.stdout + out.stderr
    assert "run returned 0; closes together" in text, text[-3000:]
    assert out.stderr.rstrip().endswith("bot stopped"), text[-3000:]
