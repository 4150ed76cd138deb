"""The protections guard's `BlockEntries(blocked=False, "protections clear")`, told to a new
incarnation at its start, still waits in the actor's mailbox when the bot stops (SIGTERM:
`stopping: no new entries`). Found by a live hedge grid chaos run (tests/e2e/live_chaos_grid.py
--kills 30 --seed 41): after `received SIGTERM` the BTC actor journaled `EntriesBlocked
{'reason': 'kill switch or shutdown'}`, then that stale message's `EntriesAllowed {'reason':
'protections clear'}`, then `EntriesBlocked` again before `stopped`: the journal said entries
were allowed while the account refused them. An allow the account overrides (kill switch or
shutdown) is not applied.

A real SymbolActor (pykka thread, SQLite), the real ccxt gateway, the Bybit emulator in hedge
mode."""

from __future__ import annotations

import threading

from actors.messages import BlockEntries
from storage import queries
from tests.actors.live_emulator import BTC, live_long


def test_an_allow_is_not_applied_while_the_account_blocks_entries(tmp_path):
    blocked = threading.Event()
    with live_long(tmp_path, "bybit", grid=True, entries_blocked=blocked.is_set) as bot:
        bot.sync()
        blocked.set()  # the bot stops: every actor's entries are blocked account-wide
        bot.ref.tell(BlockEntries(blocked=True, reason="shutdown"))
        bot.sync()
        assert queries.events(BTC, "EntriesBlocked")
        bot.ref.tell(BlockEntries(blocked=False, reason="protections clear"))  # the stale one
        bot.sync()
        assert queries.events(BTC, "EntriesAllowed") == []
        blocked.clear()  # the kill switch is reset: the guard's allow is applied again
        bot.ref.tell(BlockEntries(blocked=False, reason="protections clear"))
        bot.sync()
        assert len(queries.events(BTC, "EntriesAllowed")) == 1
