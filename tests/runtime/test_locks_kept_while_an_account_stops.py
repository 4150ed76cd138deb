"""Rules 1 and 4: the locks are held until nothing of the bot can still reach the exchange.
Found by review: an account whose stop() had not returned after the runner's wait (an actor
still in a message, an emergency close stuck on the venue) was named in one ERROR line, and
then the runner released every lock anyway: a second bot could start and trade the account
while the first one's close was still being sent. Real bot in a subprocess, paper account,
SQLite; the stuck stop is the account's real stop() followed by a wait."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.support.configs import NO_DASHBOARD_CONSOLE_LOG, QUIET_PAPER, account

ROOT = Path(__file__).resolve().parents[2]

CONFIG = QUIET_PAPER + NO_DASHBOARD_CONSOLE_LOG + account("a", "BTC/USDT:USDT")


def test_locks_kept_while_an_account_is_still_stopping(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(CONFIG.format(data=tmp_path / "data"))
    out = subprocess.run([sys.executable, "-m", "tests.runtime.stuck_stop_bot", str(config)],
                         cwd=ROOT, capture_output=True, text=True, timeout=120)
    text = out.stdout + out.stderr
    assert out.returncode == 0, text
    assert "account a did not stop within 0.5 s" in text, text
    assert "account a still stopping" in text and "the locks are kept" in text, text
    assert "run returned 0; account lock held: True; bot lock held: True" in text, text
