"""The traceback of an unexpected error, appended to logs/bot.log by `runtime/cli.unexpected`
after the log streams closed: written as the streams write a line with a traceback (found by
review: its message and traceback went in raw, so an exception text from outside - an
exchange's error page, a file's bytes - forged log lines and rewrote a terminal running
`bot.py logs bot -f`, which the streams escape everywhere else; and its time had no
milliseconds, so it did not read as a log line)."""

from __future__ import annotations

from runtime.cli import unexpected
from tests.observability.log_support import LINE

FORGED = "2026-01-01T00:00:00.000Z | ERROR | BTC/USDT:USDT | forged close"


def test_an_unexpected_errors_text_forges_no_line_and_no_terminal_escape(tmp_path):
    try:
        raise RuntimeError(f"bad page\n{FORGED}\r\x1b[2Jcleared")
    except RuntimeError as exc:
        unexpected(exc, "run", tmp_path)
    text = (tmp_path / "logs" / "bot.log").read_text()
    assert "\x1b" not in text and "\r" not in text
    lines = text.splitlines()
    stamped = [line for line in lines if LINE.match(line)]
    assert len(stamped) == 1, lines  # the CRITICAL line alone reads as a log line
    level, tag, message = LINE.match(stamped[0]).groups()  # type: ignore[union-attr]
    assert (level, tag) == ("CRITICAL", "-") and "forged close" in message
    assert not any(line.startswith("2026-01-01") for line in lines)
    assert "Traceback (most recent call last)" in text
