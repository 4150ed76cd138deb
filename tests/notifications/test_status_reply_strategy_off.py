"""Telegram's /status names a symbol whose strategy is off, as the page does.

Found by review: a symbol whose strategy raised has its signals off (its position still
managed) until a fresh incarnation runs; the page shows it in red (`STRATEGY OFF: ...`), the
reply to /status said nothing, so from a phone the symbol looked as if it traded on. A real
status file read as the dashboard reads it, a real TelegramBot against the local fake Bot API."""

from __future__ import annotations

from tests.notifications.test_status_reply import actor, ask_status, troubled_status


def test_status_reply_names_symbols_whose_strategy_is_off(tmp_path):
    status = troubled_status()
    main = status["accounts"]["main"]
    off = actor("DOGE/USDT:USDT", "running")
    off["strategy_off"] = "ZeroDivisionError: division by zero (strategy raised 3 times)"
    main["actors"] = [actor("XRP/USDT:USDT", "running"), off]
    main["escalations"], main["health"] = [], {"open_positions": 0, "protected_positions": 0,
                                               "ts_coverage": 1.0}
    reply = ask_status(tmp_path, status)
    assert "STRATEGY OFF: DOGE/USDT:USDT (ZeroDivisionError: division by zero" in reply, reply
    assert "XRP/USDT:USDT" not in reply.split("STRATEGY OFF")[1], reply
