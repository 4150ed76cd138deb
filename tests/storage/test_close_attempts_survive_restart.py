"""Incident 2: close attempts are counted and persisted. A restart must not give a symbol whose
closes keep failing a fresh budget of attempts (a crash loop would otherwise retry for ever and
never escalate): two of max 3 closes fail, the bot stops and a new decision loop is restored
from the same SQLite database, the next close fails and the symbol escalates on that third
failure. For the one-way position (storage/restore.py reads `close_attempts`) and for a hedge
grid leg (storage/grid_codec.py persists the leg's `close_attempts`).

Production DecisionLoop and cores, real SQLite Repository (closed and opened again), the fake
venue of tests/actors/test_stuck_close_escalates.py refusing every close."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import pytest

from actors.cores import as_core
from actors.loop import DecisionLoop
from actors.messages import ExternalSignal, Tick, Timer
from exchange import errors
from storage.repository import Repository
from tests.actors.test_cancel_reports_fill import SYM, Log
from tests.actors.test_stuck_close_escalates import (
    MAX_ATTEMPTS,
    Venue,
    grid_core,
    one_way_core,
    refuse_stops,
)
from tests.support.faulty_exchange import FaultyExchange, is_close_order
from trading.commands import Escalate
from trading.model import Phase, Side

T0 = 1_700_000_000.0


def refuse_closes(name: str, args: tuple, kwargs: dict) -> None:
    """Stops refused (the grid's leg is unprotected at its stop level), and every close refused
    before it reaches the venue (its lookup then finds nothing: a failed attempt)."""
    if is_close_order(args, kwargs):
        raise errors.InvalidOrder("close refused")
    refuse_stops(name, args, kwargs)


@dataclass
class Bot:
    """The venue and the database outlive the decision loops: `restart` builds a new loop (a
    new actor's) on a newly opened Repository of the same file."""

    tmp: Path
    style: str
    t: float = T0
    venue: Venue = field(default_factory=Venue)
    escalations: list[Escalate] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.fx = FaultyExchange(self.venue)
        self.fx.before["create_order"] = refuse_closes
        self.repo: Repository | None = None
        self.restart()

    def restart(self) -> None:
        if self.repo is not None:
            self.repo.close()
        self.repo = Repository(self.tmp / "bot.sqlite", synchronous="normal", clock=self.now)
        make = one_way_core if self.style == "one_way" else grid_core
        self.loop = DecisionLoop(SYM, core=as_core(make(self.repo.id_tag)), exchange=self.fx,
                                 repo=self.repo, log=Log(),
                                 on_escalate=lambda s, e: self.escalations.append(e),
                                 clock=self.now)
        self.loop.start()

    def now(self) -> float:
        return self.t

    def handle(self, message: Any, after_s: float = 1.0) -> None:
        self.t += after_s
        self.loop.handle(message)

    def close_attempts(self) -> int:
        state = self.loop.state
        return state.long.close_attempts if self.style == "grid" else state.close_attempts

    def first_close(self) -> None:
        if self.style == "one_way":
            self.venue.mark = D(100)
            self.handle(Tick(price=D(100)))
            self.handle(ExternalSignal(side=Side.LONG, signal_id="in"))
            assert self.loop.state.phase is Phase.OPEN
            self.handle(ExternalSignal(side=None, signal_id="out"))
        else:  # both legs opened at start; through the long leg's stop level (95)
            assert self.loop.state.long.is_open
            self.venue.mark = D(94)
            self.handle(Tick(price=D(94)))


@pytest.fixture(params=["one_way", "grid"])
def bot(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Bot]:
    b = Bot(tmp_path, request.param)
    try:
        yield b
    finally:
        assert b.repo is not None
        b.repo.close()


def test_close_attempts_survive_a_restart_and_the_third_failure_escalates(bot: Bot):
    bot.first_close()
    assert bot.close_attempts() == 1
    bot.handle(Timer(), after_s=BACKOFF_AFTER_FIRST)  # the retry is due: it fails too
    assert bot.close_attempts() == 2
    assert bot.escalations == [] and not bot.loop.state.quarantined

    bot.t += 10  # down for a while: the next retry is due as soon as the restored loop runs
    bot.restart()
    bot.handle(Timer())
    assert bot.close_attempts() == MAX_ATTEMPTS  # the count came back from the database
    assert len(bot.escalations) == 1 and bot.escalations[0].close
    assert bot.escalations[0].attempts == MAX_ATTEMPTS
    assert bot.loop.state.quarantined
    # the position stays tracked (the closes never reached the venue: it is still open there)
    assert bot.loop.state.long.is_open if bot.style == "grid" else bot.loop.state.position


BACKOFF_AFTER_FIRST = 2.0
"""Past the first close backoff (1 s) and the one-way core's stop retry (2 s)."""
