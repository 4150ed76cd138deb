"""A hedge grid on Bybit: a level the venue matches as it is placed, so its create's answer is
already its whole fill (a fast venue; a live Binance run showed levels BTC-25a and ETH-68a
journaled `LegAveraged` with no `LevelPlaced`). Before, the level was journaled as placed only
on an acknowledgement it never got: the journal could not show it was ever placed, and
tests/e2e/chaos_grid.py `repeated_openings` could not tell a level that reopened a leg from a
repeated entry. Now it is journaled as placed, before its fill.
A real grid actor (pykka thread, SQLite), the real ccxt gateway, the Bybit emulator in hedge
mode, whose book fills the level as it lands (before the create's answer is read back)."""

from __future__ import annotations

from typing import Any

from actors.messages import OrderActivity
from storage import queries
from tests.actors.live_emulator import BTC, live_long
from tests.support.waiting import wait_until


def test_a_level_filled_as_it_is_placed_is_journaled_as_placed(tmp_path):
    with live_long(tmp_path, "bybit", grid=True) as bot:
        def levels() -> list[Any]:  # resting limit orders that grow a leg (not take-profits)
            return [o for o in bot.book.orders.values()
                    if o.trigger is None and o.status == "open" and not o.reduce_only]

        wait_until(levels, message="levels rest")
        bot.sync()
        gone = levels()[0]
        before = len(queries.events(BTC, "LegAveraged"))
        filled: list[str] = []

        def fill_on_placement(kind: str, obj: Any) -> None:  # the venue matches it at once
            if kind == "order" and not filled and getattr(obj, "cid", None) not in (
                    None, gone.cid) and obj in levels():
                bot.book._fill(obj, obj.price)
                filled.append(obj.cid)

        bot.book.listeners.append(fill_on_placement)
        assert bot.book.cancel(gone)  # the venue cancels a level: the grid places it again
        bot.ref.tell(OrderActivity(client_order_ids=(gone.cid,)))
        wait_until(lambda: filled, message="a level placed again and filled as it landed")
        cid = filled[0]
        wait_until(lambda: len(queries.events(BTC, "LegAveraged")) > before,
                   message=f"{cid}'s fill booked (LegAveraged)")
        bot.sync()
        events = queries.events(BTC)
        placed = [e["id"] for e in events
                  if e["type"] == "LevelPlaced" and e["data"].get("order") == cid]
        averaged = [e["id"] for e in events if e["type"] == "LegAveraged"]
        assert averaged, [e["type"] for e in events[-8:]]
        assert len(placed) == 1, f"{cid} not journaled as placed: " + str(
            [(e["type"], e["data"].get("order")) for e in events[-8:]])
        assert placed[0] < averaged[-1]
        assert bot.alerts == []
