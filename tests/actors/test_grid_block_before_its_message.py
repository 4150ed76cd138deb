"""The account blocks entries (the kill switch trips, or the bot stops: `stopping: no new
entries`) while a grid actor's mailbox holds other messages: its BlockEntries message waits
behind them. Found by a live hedge grid on the Bybit emulator (helper j): after SIGTERM, levels
were still placed for 2-3 s (`LevelPlaced` at +2.1 s and +3.1 s; one filled, `LegAveraged`,
the leg grew after the stop began) until each actor reached its BlockEntries. A level grows a
leg and takes no slot of the entry gate, so only the message stopped it.

A real SymbolActor (pykka thread, SQLite), the real ccxt gateway, the Bybit emulator in hedge
mode."""

from __future__ import annotations

import threading
from typing import Any

from actors.messages import OrderActivity
from storage import queries
from tests.actors.live_emulator import BTC, live_long
from tests.support.waiting import wait_until


def test_a_grid_places_no_level_once_the_account_blocks_entries(tmp_path):
    blocked = threading.Event()
    with live_long(tmp_path, "bybit", grid=True, entries_blocked=blocked.is_set) as bot:
        def levels() -> list[Any]:  # resting limit orders that grow a leg (not take-profits)
            return [o for o in bot.book.orders.values()
                    if o.trigger is None and o.status == "open" and not o.reduce_only]

        wait_until(levels, message="levels rest")
        bot.sync()
        placed = len(queries.events(BTC, "LevelPlaced"))
        blocked.set()  # the kill switch trips: the actor's BlockEntries is still on its way
        level = levels()[0]
        assert bot.book.cancel(level)  # the venue cancels a level: the grid would place it again
        bot.ref.tell(OrderActivity(client_order_ids=(level.cid,)))
        bot.sync()
        assert levels() == [], levels()  # none placed again, every other one cancelled
        assert len(queries.events(BTC, "LevelPlaced")) == placed
        assert queries.events(BTC, "EntriesBlocked")
