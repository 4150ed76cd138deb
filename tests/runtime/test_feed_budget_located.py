"""A live feed too fast for the venue's rate budget is refused at start as the loader words its
refusals: `file:line: key = value ...`, the line of exchange.poll_interval_s, with [[accounts]]
the account's key (real `python bot.py run` subprocesses; refused before any request). Found by
review: 'bot.py: error: exchange.poll_interval_s = 0.05 with exchange.rate_budget_share = 0.5:
...' named no file, no line and no account."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
FAST = 'id = "bybit"\napi_url = "http://127.0.0.1:9"\nstreams = false\npoll_interval_s = 0.05\n'


@pytest.mark.parametrize(("text", "line", "start"), [
    ('[bot]\nmode = "live"\n[exchange]\n' + FAST + '[symbols]\nlist = ["BTC/USDT:USDT"]\n', 7,
     "exchange.poll_interval_s = 0.05 with exchange.rate_budget_share = 0.5: "),
    ('[bot]\nmode = "live"\n[[accounts]]\nname = "a"\n[accounts.exchange]\n' + FAST +
     '[accounts.symbols]\nlist = ["BTC/USDT:USDT"]\n', 9,
     "accounts[0].exchange.poll_interval_s = 0.05 with exchange.rate_budget_share = 0.5: "),
])
def test_a_feed_over_the_budget_is_refused_naming_the_file_and_line(tmp_path: Path, text: str,
                                                                    line: int, start: str):
    config = tmp_path / "config.toml"
    config.write_text(text + "[logging]\nconsole = false\n")
    env = {**os.environ, "BOT_API_KEY": "k" * 18, "BOT_API_SECRET": "s" * 36}
    done = subprocess.run([sys.executable, str(REPO / "bot.py"), "--config", str(config), "run",
                           "--data-dir", str(tmp_path / "data"), "--duration", "30"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stderr
    assert done.stderr.splitlines()[-1].startswith(f"bot.py: error: {config}:{line}: {start}"), \
        done.stderr
