"""A stop the exchange cannot be asked about (the venue down, a timeout, a rate limit) is looked
at again next round, and its `WARNING stop X unreadable: ...` was logged at every round: during
an outage one line per resting stop per second at the default pace. One line when the look
starts failing (again when the error changes kind), one when the stop can be read again.
Real actor, real ccxt gateway, the Bybit emulator."""

from __future__ import annotations

from loguru import logger

from actors.stop_watch import StopWatch
from exchange import errors
from tests.actors.live_emulator import live_long
from tests.support.faulty_exchange import FaultyExchange


def test_an_unreadable_stop_warns_once_per_episode(tmp_path, lines):
    with live_long(tmp_path) as bot:
        (stop,) = bot.stops()
        faulty = FaultyExchange(bot.gateway)
        down = {"error": errors.ExchangeUnavailable("503 Service Unavailable")}

        def outage(name: str, args: tuple, kwargs: dict) -> None:
            if down["error"] is not None:
                raise down["error"]

        faulty.before["fetch_order"] = outage
        sw = StopWatch(exchange=faulty, views=bot.views, deliver=bot.deliver, interval_s=0.05,
                       logger=logger)

        def said() -> list[str]:
            return [line for line in lines if stop.cid in line and "read" in line]

        assert [sw.check_once() for _ in range(5)] == [0] * 5 and sw.checks == 5
        assert len(said()) == 1 and "unreadable" in said()[0], said()
        down["error"] = errors.RequestTimeout("read timed out")  # another kind: one more line
        assert [sw.check_once() for _ in range(3)] == [0] * 3
        assert len(said()) == 2 and "RequestTimeout" in said()[1], said()
        down["error"] = None  # the venue answers again: said once, and quiet after
        assert [sw.check_once() for _ in range(3)] == [0] * 3
        assert len(said()) == 3 and "readable again" in said()[2], said()
        down["error"] = errors.ExchangeUnavailable("503")  # a new outage is a new episode
        assert sw.check_once() == 0
        assert len(said()) == 4 and "unreadable" in said()[3], said()
