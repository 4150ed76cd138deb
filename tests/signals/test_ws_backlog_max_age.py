"""A feed signal that waited behind a slow one is judged by its age since it reached the bot.

Found by review (README, External signals: "Every entry signal lives signals.max_age_s from its
arrival ... no entry is ever traded late"): the WebSocket client handles one message at a time
and read the next only once the last was handled, so the router started a signal's age when its
turn came. Through a database stall every message queued behind the one being journaled, and
once the database answered, each was "fresh" and traded: a burst sent during a minute-long
stall opened its positions a minute late, what signals.max_age_s exists to prevent (639362a).
Now the client notes when each message arrived, keeps reading while one is handled, and the
router judges the age from then: an entry older than signals.max_age_s when its turn comes is
refused as stale, never delivered; an exit is still delivered however late.

Real parts: a WebSocket feed on 127.0.0.1, the real client and router; the journal holds the
first signal's write until more than max_age_s passed (a stalling database)."""

from __future__ import annotations

import time

from loguru import logger

from signals.ws_client import SignalWebSocketClient
from tests.signals.support import HeldJournal, LocalWsServer, make_router
from tests.support.waiting import wait_until

BTC, ETH = "BTC/USDT:USDT", "ETH/USDT:USDT"
MAX_AGE_S = 2.0


def test_a_signal_queued_behind_a_stalled_one_past_max_age_is_not_traded():
    server = LocalWsServer().start()
    journal = HeldJournal(hold_s=30)  # a stalling database
    router, journal, deliver = make_router(journal=journal, max_age_s=MAX_AGE_S)
    client = SignalWebSocketClient(url=server.url, handle=router.handle_raw, logger=logger)
    client.start()
    try:
        wait_until(lambda: server.client_count() == 1, message="client connected")
        server.send({"id": "first", "symbol": BTC, "side": "long"})
        assert journal.entered.wait(10), "the first signal's journal write began"
        sent = time.monotonic()
        server.send({"id": "queued-entry", "symbol": ETH, "side": "long"})
        server.send({"id": "queued-exit", "symbol": BTC, "side": "exit"})
        # the database stalls past max_age_s after both reached the bot
        wait_until(lambda: time.monotonic() - sent > 2 * MAX_AGE_S, timeout=10,
                   message="the stall outlasts signals.max_age_s")
        journal.release.set()
        wait_until(lambda: any(sig.signal_id == "queued-exit" for _, sig in deliver.calls),
                   timeout=15, message="the exit delivered however late")
        server.send({"id": "fresh", "symbol": ETH, "side": "short"})
        wait_until(lambda: any(sig.signal_id == "fresh" for _, sig in deliver.calls),
                   timeout=15, message="a signal sent after the stall delivered")
        delivered = [sig.signal_id for _, sig in deliver.calls]
        assert "queued-entry" not in delivered, (
            f"an entry that waited {2 * MAX_AGE_S:g}s+ behind a stalled one was traded: "
            f"{delivered}")
        [refused] = [data for _, _, data, _ in journal.of("SignalRejected")
                     if data.get("signal_id") == "queued-entry"]
        assert "signals.max_age_s" in refused["reason"], refused
        # refused when its turn came, before anything recorded it as accepted (mutation
        # audit: without that check the journal write's own check still refused it, but
        # only after a SignalAccepted row for a signal never traded, under the reason "the
        # database was slow" instead of the README's "when its turn came")
        assert "old when its turn came" in refused["reason"], refused
        assert [cid for _, _, _, cid in journal.of("SignalAccepted")
                if cid == "queued-entry"] == []
    finally:
        journal.release.set()
        client.stop(timeout_s=5)
        server.stop()
