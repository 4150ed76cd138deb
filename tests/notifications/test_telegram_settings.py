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


def test_a_retry_wait_beyond_an_hour_is_refused(tmp_path: Path):
    # a wait past threading.TIMEOUT_MAX raised OverflowError in the sender thread after the
    # first failed send: the thread died and every later alert stayed queued, never sent
    path = _config(tmp_path, "retry_max_s = 1e10\n")
    assert refused(path) == (f"{path}: telegram.retry_max_s: must be > 0 and <= 3600 "
                             "(got 10000000000.0)")
    path = _config(tmp_path, "retry_initial_s = 1e10\n")
    assert refused(path).startswith(f"{path}: telegram.retry_initial_s: must be > 0 and <= 3600")
    kept = load_settings(_config(tmp_path, "retry_initial_s = 5\nretry_max_s = 3600\n"))
    assert (kept.telegram.retry_initial_s, kept.telegram.retry_max_s) == (5.0, 3600.0)


def test_a_chat_listed_twice_is_refused(tmp_path: Path):
    # every alert, trade notice and reply went to such a chat twice
    path = _config(tmp_path, "chat_ids = [5, -1001234567890, 5]\n")
    assert refused(path) == (f"{path}: telegram.chat_ids[2]: duplicate of "
                             "telegram.chat_ids[0] (got 5)")
