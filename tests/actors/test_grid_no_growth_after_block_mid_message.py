"""The account blocks entries (the bot stopping: `stopping: no new entries`, or the kill switch)
while a grid actor is in the middle of one message: the decisions of that message's loop must
send no order that grows a leg from then on. Found by a live hedge grid chaos run (seed 4623):
the final start's message that opened both legs kept going for 3 s after SIGTERM, the short
leg's entry sent 1.7 s after `stopping: no new entries` and a level of each leg after their
entries filled; the BlockEntries message (and `_blocked_early`, checked once per message)
waited behind it.

Here: a level of the long leg fills; the message that books it replaces the leg's stop (to
cover the next level too) and, once that stop rests, places the next level. The account
blocks entries right after the stop's create went out. A real SymbolActor (pykka thread,
SQLite), the real ccxt gateway, the Bybit emulator in hedge mode; the block is injected by a
wrapper of the gateway (the `port` of the rig)."""

from __future__ import annotations

import threading
from typing import Any

from actors.messages import OrderActivity
from storage import queries
from tests.actors.live_emulator import BTC, live_long
from tests.support.waiting import wait_until


class BlockOnStop:
    """The gateway, but the account blocks entries once a stop's create went out (`armed`)."""

    def __init__(self, gateway: Any, armed: threading.Event, blocked: threading.Event) -> None:
        self._gateway, self._armed, self._blocked = gateway, armed, blocked

    def create_order(self, *args: Any, **kwargs: Any) -> Any:
        result = self._gateway.create_order(*args, **kwargs)
        params = kwargs.get("params") or (args[5] if len(args) > 5 else {}) or {}
        if self._armed.is_set() and "stopLossPrice" in params:
            self._blocked.set()  # SIGTERM while this stop's answer is on its way
        return result

    def __getattr__(self, name: str) -> Any:
        return getattr(self._gateway, name)


def test_a_grid_message_sends_no_level_after_the_account_blocks_entries(tmp_path):
    armed, blocked = threading.Event(), threading.Event()
    with live_long(tmp_path, "bybit", grid=True, entries_blocked=blocked.is_set,
                   port=lambda gateway: BlockOnStop(gateway, armed, blocked)) as bot:
        def growing() -> list[Any]:  # limit orders that grow a leg (levels, not take-profits)
            return [o for o in bot.book.orders.values()
                    if o.type == "limit" and not o.reduce_only]

        level = wait_until(lambda: next((o for o in growing() if o.status == "open"
                                         and bot.book.leg_of(o) == "long"), None),
                           message="the long leg's level rests")
        bot.sync()
        before = {o.cid for o in growing()}
        armed.set()
        with bot.book.lock:
            bot.book._fill(level, level.price)  # the market reached the level
        bot.ref.tell(OrderActivity(client_order_ids=(level.cid,)))
        bot.sync()
        assert queries.events(BTC, "LegAveraged"), "the level's fill was booked"
        assert blocked.is_set(), "the replaced stop's create went out"
        sent = [(o.cid, o.status) for o in growing() if o.cid not in before]
        assert sent == [], f"orders growing a leg sent after the account blocked entries: {sent}"
