"""A trailing stop's amend that finds its stop already fired. Bybit answers an amend of a
triggered or filled stop `110001 order not exists or too late to replace`; the executor made it
`StopAmendFailed` ("the stop rests where it was"), so the core placed a new stop at the moved
level (refused: the price had fallen through it), then closed at the trailing trigger (refused:
reduce-only, nothing left to reduce), counted a failed close attempt, and booked the stop's
fill only once its report got through. Live chaos (Bybit, seed 4513, --hold 3): the first amend
of main-cf1d-BTC-18s landed and its answer was held, the stop fired, the retried amend got
110001; then the refused stop 19s and close 20c (held 5 s), the position booked closed 7 s after
the venue closed it; the run's `protected` check failed ('flat on the venue, bot long').
An amend refused as not found is now answered by looking the stop up: its fill is booked at
once. Real actor, real ccxt gateway, the Bybit emulator."""

from __future__ import annotations

from decimal import Decimal

from actors.messages import Tick
from storage import queries
from tests.actors.live_emulator import BTC, live_long
from tests.support.waiting import wait_until


def test_an_amend_of_a_stop_that_fired_books_its_fill_without_a_new_stop_or_close(tmp_path):
    with live_long(tmp_path, "bybit") as bot:
        (stop,) = bot.stops()
        bot.book.set_price("BTCUSDT", stop.trigger - Decimal(100))  # it fires and fills
        assert bot.position() == 0 and not bot.stops()
        bot.emu.clear()
        bot.ref.tell(Tick(price=Decimal("50500")))  # the actor, not told yet, trails the stop
        wait_until(lambda: bot.emu.hits("/v5/order/amend"), message="the amend was sent")
        bot.sync()
        wait_until(lambda: bot.view().phase == "flat", message="the stop's fill booked")
        posts = [r.path for r in bot.emu.requests if r.method == "POST"]
        assert "/v5/order/create" not in posts, posts  # no refused stop, no refused close
        (closed,) = queries.events(BTC, "PositionClosed")
        assert closed["data"]["realized_pnl"] != "0"
        assert not queries.events(BTC, "CloseFailed")
