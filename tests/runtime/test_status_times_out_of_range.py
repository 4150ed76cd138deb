"""A damaged status.json whose times lie outside what the platform's clock functions take is
one line naming the file, as every other malformed status is (runtime/status_cli.py).

Found by running `bot.py status` on a status.json with `started_at` 1e300 (or -1e18): it said
`unexpected OverflowError in status: timestamp out of range for platform time_t` (OSError
`Value too large for defined data type` for -1e18), the line kept for the bot's own bugs, not
for a file that is damaged; a NaN or a string there already got the one line below."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("field", ["started_at", "heartbeat_at"])
@pytest.mark.parametrize("value", [1e300, -1e18, 1e20])
def test_a_status_time_out_of_the_clocks_range_is_one_line(tmp_path, field, value):
    config = tmp_path / "c.toml"
    config.write_text('[symbols]\nlist = ["BTC/USDT:USDT"]\n')
    data = tmp_path / "data"
    data.mkdir()
    bot = {"pid": 1, "running": False, "mode": "paper", "version": "x",
           "started_at": 1_700_000_000.0, "heartbeat_at": 1_700_000_000.0}
    bot[field] = value
    (data / "status.json").write_text(json.dumps({"bot": bot, "actors": []}))
    done = subprocess.run([sys.executable, str(ROOT / "bot.py"), "--config", str(config),
                           "--data-dir", str(data), "status"], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1, done.stderr
    assert done.stderr.startswith(
        f"bot.py: error: {data / 'status.json'}: cannot show the status (missing or malformed "
    ), done.stderr
    assert "unexpected" not in done.stderr, done.stderr
