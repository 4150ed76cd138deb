"""The streams' `last_error` says when it happened.

Found by review: the status dump's `streams.last_error` kept a watcher's error for the rest of
the run, with nothing to date it. Once the streams were up again the block still carried it as
if it were now, and when they were later down for another reason (a connection gone silent, a
gap whose fills REST cannot read yet), the page's and Telegram's `STREAMS DOWN` line showed that
old error as the cause. Now the block has `last_error_at` (epoch seconds) and the lines say
`last error at <time>`.

The real ccxt.pro streams and gateway against Bybit's emulators (the WebSocket one drops and
refuses connections for a while), the real stream feed, a real pykka actor per symbol; the
/status text from a status file read as the dashboard reads it."""

from __future__ import annotations

import time

from dashboard.source import DashboardSource
from notifications.status_text import status_text
from supervision.status import write_status
from tests.exchange.ccxt.stream_rig import StreamRig
from tests.support.waiting import wait_until


def test_the_streams_error_keeps_the_time_it_happened_once_they_are_up_again(tmp_path):
    rig = StreamRig("bybit", tmp_path).start()
    try:
        rig.wait_mode("stream")
        before = time.time()
        rig.ws.refuse(True)
        rig.ws.drop_all()
        # a dial refused: the watchers failed since `before` (the drop), then dialled again
        wait_until(lambda: rig.ws.refused >= 1, timeout=30, message="a dial refused")
        failed = rig.feed.status()
        after = time.time()
        assert failed["last_error"], failed
        assert failed.get("last_error_at") is not None, failed
        assert before <= failed["last_error_at"] <= after, (before, failed, after)
        rig.ws.refuse(False)
        rig.wait_mode("stream", timeout=40)
        up = wait_until(lambda: (b := rig.feed.status())["connected"] and b, timeout=30,
                        message="connected")
        # still there, and dated: when the streams last failed, not now
        assert up["last_error"] and before <= up["last_error_at"] <= time.time(), up
    finally:
        rig.stop()


def test_streams_down_names_its_last_error_with_the_time_it_happened(tmp_path):
    now = 1_796_000_000.0
    streams = {"mode": "rest", "connected": True, "last_message_age_s": 20.0, "reconnects": 1,
               "last_error": "tickers: NetworkError: socket closed",
               "last_error_at": now - 3 * 3600, "silent_symbols": 0, "silent": []}
    main = {"exchange": "bybit", "kill_switch": False, "actors": [], "escalations": [],
            "health": {"open_positions": 0, "protected_positions": 0, "ts_coverage": 1.0,
                       "unreadable_symbols": 0, "restoring_symbols": 0}, "streams": streams}
    bot = {"pid": 7, "mode": "live", "version": "v", "heartbeat_at": now - 1}
    write_status(tmp_path, {"bot": bot, **main, "accounts": {"main": main}})
    source = DashboardSource(data_dir=tmp_path, accounts=[], running=lambda: True,
                             clock=lambda: now)
    reply = status_text(source.status())
    when = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(now - 3 * 3600))
    assert (f"STREAMS DOWN: mode rest, connected yes, last message 20.0 s ago (last error at "
            f"{when}: tickers: NetworkError: socket closed)") in reply, reply
