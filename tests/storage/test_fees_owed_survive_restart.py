"""An order that ended with its fee unknown (Binance lists an order's trades, which carry its
fee, after the fill) is looked up again for the fee (trading/late_fees.py). Those owed fees are
stored with the state, so a restart in the ~2.5 minutes of looks (a crash, kill -9, the
supervisor restoring the actor from the database) still books the fee, or still gives the
warning; they were kept in memory only, and a restart lost the fee without a word.

Production DecisionLoop and cores, a real SQLite Repository closed and opened again, and the
fake venue of tests/actors/test_cancel_reports_fill.py answering without fees while its trade
list lags. Both styles: the one-way entry, the grid's two opening entries."""

from __future__ import annotations

import dataclasses
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import pytest

from actors.cores import as_core
from actors.loop import DecisionLoop
from actors.messages import ExternalSignal, Tick, Timer
from exchange.records import VenueOrder
from storage.repository import Repository
from tests.actors.test_cancel_reports_fill import FEE_RATE, SYM, Log, Rec, Venue
from tests.actors.test_stuck_close_escalates import grid_core, one_way_core
from trading import late_fees
from trading.model import Side

T0 = 1_700_000_000.0


@dataclass
class LaggingVenue(Venue):
    """While `lagging`, the order's trades are not listed yet: every answer about a filled
    order says what filled and at what price, but not its fee."""

    lagging: bool = True

    def _view(self, o: Rec) -> VenueOrder:
        view = super()._view(o)
        return dataclasses.replace(view, fee=None) if self.lagging and o.filled else view

    def fetch_my_trades(self, symbol=None, since=None, limit=None, params=None):  # noqa: ANN001, ANN201
        return [] if self.lagging else super().fetch_my_trades(symbol, since, limit, params)


@dataclass
class Bot:
    """The venue and the database outlive the decision loops: `restart` builds a new loop on a
    newly opened Repository of the same file (what a restarted process or actor does)."""

    tmp: Path
    style: str
    t: float = T0
    venue: LaggingVenue = field(default_factory=LaggingVenue)
    log: Log = field(default_factory=Log)

    def __post_init__(self) -> None:
        self.repo: Repository | None = None
        self.restart()

    @property
    def path(self) -> Path:
        return self.tmp / "bot.sqlite"

    def restart(self) -> None:
        if self.repo is not None:
            self.repo.close()
        self.repo = Repository(self.path, synchronous="normal", clock=self.now)
        make = one_way_core if self.style == "one_way" else grid_core
        self.loop = DecisionLoop(SYM, core=as_core(make(self.repo.id_tag)), exchange=self.venue,
                                 repo=self.repo, log=self.log, on_escalate=lambda s, e: None,
                                 clock=self.now)
        self.loop.start()  # the grid opens both legs here

    def now(self) -> float:
        return self.t

    def handle(self, message: Any, after_s: float = 1.0) -> None:
        self.t += after_s
        self.loop.handle(message)

    def open(self) -> None:
        if self.style == "one_way":
            self.handle(Tick(price=D(100)))
            self.handle(ExternalSignal(side=Side.LONG, signal_id="in"))

    def stored(self) -> Any:
        """The state as the database has it (read back, not the loop's memory)."""
        assert self.repo is not None
        return self.repo.load(SYM, store=self.loop.core.store)

    def fills(self) -> list[tuple[str, D, D]]:
        with sqlite3.connect(self.path) as c:
            rows = c.execute("SELECT client_order_id, amount, fee FROM fills ORDER BY id")
            return [(cid, D(str(a)), D(str(f))) for cid, a, f in rows.fetchall()]

    def journal(self, type_: str) -> list[str]:
        with sqlite3.connect(self.path) as c:
            rows = c.execute("SELECT data FROM events WHERE type = ?", (type_,)).fetchall()
        return [r[0] for r in rows]

    def owed(self) -> set[str]:
        return {o.order.client_order_id for o in self.loop.state.fees_owed}


@pytest.fixture(params=["one_way", "grid"])
def bot(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Bot]:
    b = Bot(tmp_path, request.param)
    try:
        yield b
    finally:
        assert b.repo is not None
        b.repo.close()


def entries(bot: Bot) -> set[str]:
    return {cid for cid in bot.venue.orders if cid.endswith("e")}


def test_an_owed_fee_is_stored_and_booked_after_a_restart(bot: Bot):
    bot.open()
    owed = entries(bot)
    assert owed and bot.owed() == owed  # filled, fee unknown: owed
    assert {cid: fee for cid, _, fee in bot.fills()} == dict.fromkeys(owed, D(0))
    stored = bot.stored()
    assert stored.fees_owed == bot.loop.state.fees_owed  # the orders, looks and times
    assert all(o.looks == 0 and o.noted_at >= T0 for o in stored.fees_owed)

    bot.venue.lagging = False  # the trades are listed now
    bot.t += 2  # the process died before the first look (5 s after the fill)
    bot.restart()  # its start reconciles: the lookup tells the fees
    late = [(cid, fee) for cid, amount, fee in bot.fills() if amount == 0]
    expected = {cid: bot.venue.orders[cid].fee for cid in owed}
    assert dict(late) == expected and len(late) == len(owed)
    assert all(fee == bot.venue.orders[cid].filled * D(100) * FEE_RATE
               for cid, fee in expected.items())
    assert len(bot.journal("FeeBookedLate")) == len(owed)
    assert bot.owed() == set() and bot.stored().fees_owed == ()  # booked: not owed any more
    bot.restart()
    assert [f for f in bot.fills() if f[1] == 0] == [(c, D(0), f) for c, f in late]  # once


def test_an_owed_fee_the_venue_never_tells_still_warns_once_across_a_restart(bot: Bot):
    bot.open()
    owed = entries(bot)
    bot.handle(Timer(), after_s=late_fees.LOOK_AGAIN_S + 1)  # the first look: nothing yet
    assert bot.owed() == owed
    bot.t += 3
    bot.restart()  # within the looks: still owed, from the database
    assert bot.owed() == owed
    for _ in range(3 * late_fees.FEE_LOOKS):
        bot.handle(Timer(), after_s=200)
    warned = bot.journal("FeeUnbooked")
    assert len(warned) == len(owed) and all(any(c in w for w in warned) for c in owed)
    assert sum("FeeUnbooked" in w for w in bot.log.warnings) == len(owed)
    assert bot.owed() == set() and bot.stored().fees_owed == ()  # given up: committed
    assert all(amount > 0 for _, amount, _ in bot.fills())  # nothing booked for them
