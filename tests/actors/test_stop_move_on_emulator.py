"""How a stop moves (issue 12 item 7: the README said Bybit stops are amended, the code placed a
new stop and cancelled the old one). A real actor, the real gateway, the venue emulators, the
risk rules as runtime/wiring.py builds them: on Bybit the trailing stop's move amends the resting
stop in place (`/v5/order/amend`: same order, same client id, no second stop, no cancel); on
Binance, whose algo stops cannot be amended, the new stop is created before the old one is
cancelled, so the position is never without a stop."""

from __future__ import annotations

from decimal import Decimal

from actors.messages import Tick
from storage import queries
from tests.actors.live_emulator import BTC, Live, live_long
from tests.support.waiting import wait_until

UP = Decimal("50500")


def ratchet(bot: Live) -> None:
    with bot.book.lock:
        bot.book.prices["BTCUSDT"] = UP
    bot.ref.tell(Tick(price=UP))  # activates the trailing stop and ratchets it


def test_bybit_moves_the_stop_by_amending_it_in_place(tmp_path):
    with live_long(tmp_path, "bybit") as bot:
        (old,) = bot.stops()
        first = old.trigger
        bot.emu.clear()
        ratchet(bot)
        wait_until(lambda: bot.stops() and bot.stops()[0].trigger > first, message="amended")
        (moved,) = bot.stops()
        assert (moved.oid, moved.cid) == (old.oid, old.cid)  # the same order
        paths = [r.path for r in bot.emu.requests if r.method == "POST"]
        assert paths.count("/v5/order/amend") == 1
        assert "/v5/order/create" not in paths and "/v5/order/cancel" not in paths
        bot.sync()
        view = bot.view()
        assert view.protected and Decimal(view.stop_price) == moved.trigger
        (amended,) = queries.events(BTC, "StopAmended")
        assert amended["data"]["order"] == old.cid


def test_binance_moves_the_stop_new_first_then_cancels_the_old(tmp_path):
    with live_long(tmp_path, "binanceusdm") as bot:
        (old,) = bot.stops()
        bot.emu.clear()
        ratchet(bot)
        wait_until(lambda: len(bot.stops()) == 1 and bot.stops()[0].oid != old.oid,
                   message="stop moved")
        (new,) = bot.stops()
        assert new.trigger > old.trigger and new.qty == old.qty
        assert bot.book.orders[old.oid].status == "canceled"
        algo = [r.method for r in bot.emu.requests if r.path == "/fapi/v1/algoOrder"
                and r.method in ("POST", "DELETE")]
        assert algo == ["POST", "DELETE"]  # created before the old one is cancelled
