"""`[telegram]` values that would make the Telegram side misbehave are refused at load, in one
line naming the key (found by review)."""

from __future__ import annotations

from pathlib import Path

from config import load_settings
from tests.config.refusals import refused

SYMBOLS = '[symbols]\nlist = ["BTC/USDT:USDT"]\n'


def _config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(SYMBOLS + "[telegram]\n" + text)
    return path


def test_a_poll_timeout_of_zero_is_refused(tmp_path: Path):
    # getUpdates with timeout 0 is answered at once: the command poller asked again at once,
    # a request loop against api.telegram.org for as long as the bot ran
    path = _config(tmp_path, "poll_timeout_s = 0\n")
    assert refused(path) == f"{path}: telegram.poll_timeout_s: must be >= 1 and <= 50 (got 0)"
    assert load_settings(_config(tmp_path, "poll_timeout_s = 1\n")).telegram.poll_timeout_s == 1
