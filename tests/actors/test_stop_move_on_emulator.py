"""How a stop moves on Bybit (issue 12 item 7: the README said "amend", the code placed a new
stop and cancelled the old one; the README now says what the code does). A real actor, the real
gateway, the Bybit emulator: the trailing stop ratchets, the new stop is created before the old
one is cancelled (the position is never without a stop), and nothing is amended."""

from __future__ import annotations

from decimal import Decimal

from actors.messages import Tick
from tests.actors.live_emulator import live_long
from tests.support.waiting import wait_until


def test_a_stop_move_places_the_new_stop_before_cancelling_the_old(tmp_path):
    with live_long(tmp_path) as bot:
        (old,) = bot.stops()
        bot.emu.clear()
        up = Decimal("50500")
        with bot.book.lock:
            bot.book.prices["BTCUSDT"] = up
        bot.ref.tell(Tick(price=up))  # activates the trailing stop and ratchets it
        wait_until(lambda: len(bot.stops()) == 1 and bot.stops()[0].oid != old.oid,
                   message="stop moved")
        (new,) = bot.stops()
        assert new.trigger > old.trigger and new.qty == old.qty
        assert bot.book.orders[old.oid].status == "canceled"
        paths = [r.path for r in bot.emu.requests if r.method == "POST"]
        assert "/v5/order/amend" not in paths
        assert paths.index("/v5/order/create") < paths.index("/v5/order/cancel")
