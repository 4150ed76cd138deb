"""A stop that never reached the venue is placed again at once, in the same message, under a
new client order id; a venue that swallows stop after stop gets them backed off as refusals
are (no loop). Both styles.

The venue here never sees the swallowed stop: its create times out before it is sent, and the
executor's lookup by client id finds nothing (`OrderFailed.lost`). It used to be taken for a
stop the venue refused and waited `stop_retry_s` (2 s) with the position bare. Production
DecisionLoop, cores and CommandExecutor, real SQLite Repository, the fake venue of
tests/actors/test_cancel_reports_fill.py given to the loop's constructor."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from actors.cores import as_core
from actors.loop import DecisionLoop
from actors.messages import ExternalSignal, Tick, Timer
from exchange import errors
from storage.repository import Repository
from tests.actors.test_cancel_reports_fill import SYM, Log
from tests.actors.test_stuck_close_escalates import (
    Venue,
    grid_core,
)
from tests.support.faulty_exchange import FaultyExchange, params_of
from tests.trading.conftest import make_rules
from trading.decide import SymbolCore
from trading.model import Side


class Bot:
    """One symbol's DecisionLoop whose venue swallows the first `swallow` stops sent."""

    def __init__(self, tmp: Path, style: str, swallow: int) -> None:
        self.style, self.t, self.swallow = style, 1_700_000_000.0, swallow
        self.venue = Venue()
        self.fx = FaultyExchange(self.venue)
        self.sent: list[tuple[float, str]] = []  # (when, client order id) of every stop sent
        self.fx.before["create_order"] = self._stop_sent
        self.repo = Repository(tmp / "bot.sqlite", synchronous="normal", clock=self.now)
        tag = self.repo.id_tag
        core = (SymbolCore(dataclasses.replace(make_rules(), id_tag=tag)) if style == "one_way"
                else grid_core(tag))
        self.loop = DecisionLoop(SYM, core=as_core(core), exchange=self.fx, repo=self.repo,
                                 log=Log(), on_escalate=lambda s, e: None, clock=self.now)

    def now(self) -> float:
        return self.t

    def _stop_sent(self, name: str, args: tuple, kwargs: dict) -> None:
        p = params_of(args, kwargs)
        if "stopLossPrice" not in p:
            return
        self.sent.append((self.t, p["clientOrderId"]))
        if len(self.sent) <= self.swallow:
            raise errors.RequestTimeout("no answer")  # lost on the way: the venue never saw it

    def open(self) -> None:
        """Open a position (one-way) or both legs (the grid opens them as it starts)."""
        self.loop.start()
        if self.style == "one_way":
            self.loop.handle(Tick(price=self.venue.mark))
            self.loop.handle(ExternalSignal(side=Side.LONG, signal_id="in"))

    def protected(self) -> bool:
        state = self.loop.state
        if self.style == "one_way":
            return state.protected()
        return state.protected(Side.LONG) and state.protected(Side.SHORT)

    def resting_stops(self) -> list[str]:
        return [cid for cid, o in self.venue.orders.items()
                if o.trigger is not None and o.status == "open"]


@pytest.fixture(params=["one_way", "grid"])
def style(request: pytest.FixtureRequest) -> str:
    return request.param


def test_a_lost_stop_is_sent_again_in_the_same_message(tmp_path: Path, style: str):
    bot = Bot(tmp_path, style, swallow=1)
    try:
        bot.open()
        legs = 1 if style == "one_way" else 2
        lost = bot.sent[0][1]
        assert len(bot.sent) == legs + 1, f"stops sent: {bot.sent}"
        assert all(when == bot.sent[0][0] for when, _ in bot.sent), "no wait: the same message"
        assert lost not in bot.resting_stops() and len(bot.resting_stops()) == legs
        assert len({cid for _, cid in bot.sent}) == len(bot.sent), "each under a new client id"
        assert bot.protected()
    finally:
        bot.repo.close()


def test_stops_lost_again_and_again_back_off(tmp_path: Path, style: str):
    bot = Bot(tmp_path, style, swallow=10**6)
    try:
        bot.open()
        legs = 1 if style == "one_way" else 2
        first = len(bot.sent)
        assert first == 2 * legs, f"each leg's stop and, at once, its one re-send: {bot.sent}"
        for _ in range(120):  # two minutes of 1 s heartbeats
            bot.t += 1
            bot.loop.handle(Timer())
        later = len(bot.sent) - first
        # the refusals' backoff: 2, 2, 4, 8, 16, 32, 60 s... per leg, not one per heartbeat
        assert 0 < later <= 8 * legs, f"{later} stops in 120 s"
        assert not bot.protected()
    finally:
        bot.repo.close()
