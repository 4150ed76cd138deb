"""An external exit that arrives while the entry is in flight waits for it and closes the
position it opened.

Found by a paper chaos run (session 45, 150 kills): an exit signal handled while the entry's
fill was not yet reported (its create answered, the fill still to come: how Bybit and Binance
answer a market order) was skipped, 'the entry is still in flight: no open position to exit
yet', 25 times in 10 minutes; the entry then filled and the position its sender had asked
closed (and been told 202) stayed open. Now the exit waits in the actor (not journaled as
handled: lost in a crash, the successor carries it out) and is decided once the entry ends.

Real supervisor, pykka actors, SQLite, the paper exchange, whose create answer is made to say
what a venue's says of a market order (acknowledged, nothing filled yet): the fill comes with
the feed's next poll, as the venue's report.
"""

from __future__ import annotations

import threading
from dataclasses import replace
from decimal import Decimal
from typing import Any

from actors.messages import ExternalSignal
from exchange.records import VenueOrderStatus
from tests.signals.support import signal_events
from tests.support.harness import Harness
from tests.support.waiting import wait_until
from trading.model import Phase, Side

BTC = "BTC/USDT:USDT"


class AnswersLikeAVenue:
    """The paper exchange, its market entries answered 'open, nothing filled' (the fill is
    reported later, by the feed's poll)."""

    def __init__(self, port: Any) -> None:
        self.port = port
        self.answered = threading.Event()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.port, name)

    def create_order(self, symbol: str, type: str, side: str, amount: Decimal,
                     price: Decimal | None = None, params: dict[str, Any] | None = None) -> Any:
        answer = self.port.create_order(symbol, type, side, amount, price, params)
        if type == "market" and not (params or {}).get("reduceOnly"):
            self.answered.set()
            return replace(answer, status=VenueOrderStatus.OPEN, filled=Decimal(0),
                           average=None, fee=None)
        return answer


def test_an_exit_during_the_entry_closes_the_position_it_opened(tmp_path) -> None:  # noqa: ANN001
    ports: list[AnswersLikeAVenue] = []
    h = Harness(tmp_path, [BTC], wrap=lambda paper: ports.append(AnswersLikeAVenue(paper))
                or ports[0])
    h.start()
    try:
        h.poll()
        assert h.signal(BTC, Side.LONG)
        assert ports[0].answered.wait(10)
        h.idle(BTC)
        assert h.view(BTC).phase == Phase.ENTERING.value  # the fill not reported yet
        assert h.sup.deliver_signal(BTC, ExternalSignal(side=None, signal_id="x1",
                                                        reason="signal:http"))
        h.idle(BTC)
        assert signal_events(h, BTC, "SignalSkipped", "x1") == []
        assert signal_events(h, BTC, "SignalHandled", "x1") == []  # waiting, not handled
        [waiting] = signal_events(h, BTC, "SignalWaiting", "x1")
        assert waiting["data"]["reason"] == "waits for the entry in flight", waiting
        h.poll()  # the venue reports the entry's fill
        wait_until(lambda: h.exchange_position(BTC) is None and h.view(BTC).phase == "flat",
                   message="the waiting exit closed the position the entry opened")
        assert len(signal_events(h, BTC, "SignalHandled", "x1")) == 1
        assert signal_events(h, BTC, "SignalSkipped", "x1") == []
        assert h.exchange_stops(BTC) == []
    finally:
        h.stop()
