"""Telegram's /status says when the streams' last error happened with its date: it outlives
its outage, and a time of day alone read an error of yesterday as one of an hour ago (found by
review: 'last error at 02:45:05 UTC' for an error 23 hours old, the streams down now). Real
status file, DashboardSource, TelegramBot against the local fake Bot API
(test_status_reply.py's)."""

from __future__ import annotations

from tests.notifications.test_status_reply import NOW, actor, ask_status, troubled_status

DAY = 86_400.0


def test_the_streams_last_error_of_yesterday_is_dated(tmp_path):
    status = troubled_status()
    main = status["accounts"]["main"]
    main["actors"], main["escalations"] = [actor("XRP/USDT:USDT", "running")], []
    main["health"] = {"open_positions": 0, "protected_positions": 0, "ts_coverage": 1.0,
                      "unreadable_symbols": 0, "restoring_symbols": 0}
    later = NOW + DAY  # the bot's (and the reader's) now: a day after the error
    main["streams"] = {"mode": "rest", "connected": False, "last_message_age_s": 3.0,
                       "reconnects": 1, "last_error": "NetworkError: socket closed",
                       "last_error_at": NOW - 95}
    status["bot"]["heartbeat_at"] = later - 1
    reply = ask_status(tmp_path, status, now=later)
    assert ("(last error at 1970-01-01 02:45:05 UTC: NetworkError: socket closed)"
            in reply), reply
