"""The account blocks entries (the bot stops, or the kill switch trips) while an actor's
mailbox still holds a `BlockEntries(blocked=False)`: the protections guard tells each new
incarnation "protections clear" unless the supervisor's kill switch is on, and a stopping bot's
block is not the kill switch. Found by a live chaos run (Bybit emulator, seed 23, SIGTERM at the
end): BTC journaled `EntriesBlocked` (kill switch or shutdown), then `EntriesAllowed`
(protections clear), then `EntriesBlocked` again, all within 1 ms of the stop.

A real SymbolActor (pykka thread, SQLite), the real ccxt gateway, the Bybit emulator."""

from __future__ import annotations

import threading

from actors.messages import BlockEntries
from storage import queries
from tests.actors.live_emulator import BTC, live_long


def test_protections_clear_does_not_lift_the_accounts_block(tmp_path):
    blocked = threading.Event()
    with live_long(tmp_path, "bybit", entries_blocked=blocked.is_set) as bot:
        allowed = len(queries.events(BTC, "EntriesAllowed"))
        blocked.set()  # the bot stops: its block is the account's, not the guard's
        bot.ref.tell(BlockEntries(blocked=False, reason="protections clear"))
        bot.sync()
        assert len(queries.events(BTC, "EntriesAllowed")) == allowed, \
            queries.events(BTC, "EntriesAllowed")[allowed:]
        assert bot.ref.proxy().loop.get(timeout=10).state.entries_blocked  # after the message
