"""A fill report that adds nothing (repeated, or an older read arriving after a newer one) leaves
the order as it is. Reviewer's case: an entry of 1 fills 0.4 at 100, 0.4 at 102, 0.2 at 104
(the venue's average 101.6). A late read of the first part (0.4, average 100) was ignored for
the amount and fee but overwrote the order's average, so the last part was priced from it:
booked at 108 instead of 104, entry 102.4 instead of 101.6, the stop placed from the wrong
entry, the close's P&L off by 0.80. The grid's handler already ignored such a report.

Production DecisionLoop, SymbolCore and CommandExecutor, a real SQLite Repository, and the fake
venue of tests/actors/test_cancel_reports_fill.py (market orders filling in parts, and a read
that answers an older snapshot), given to the loop's constructor."""

from __future__ import annotations

import dataclasses
import sqlite3
from dataclasses import dataclass, field
from decimal import Decimal as D
from pathlib import Path

from actors.cores import as_core
from actors.loop import DecisionLoop
from actors.messages import ExternalSignal, OrderActivity
from exchange.records import PositionSide, VenueOrder
from storage.repository import Repository
from tests.actors.test_cancel_reports_fill import SYM, Bot, Log, Venue
from tests.trading.conftest import make_rules
from trading.decide import SymbolCore
from trading.model import OrderPurpose, Phase, Side


@dataclass
class PartsVenue(Venue):
    """+ `stale` ids answer the snapshot `snap` took instead of the order as it is
    (`partial_entry`: the next market entry fills only that much, the rest keeps executing,
    filled by the test)."""

    snapshots: dict[str, VenueOrder] = field(default_factory=dict)
    stale: set[str] = field(default_factory=set)

    def snap(self, cid: str) -> None:
        self.snapshots[cid] = self._view(self.orders[cid])

    def fetch_order(self, id, symbol, params=None):  # noqa: ANN001, ANN201
        cid = str((params or {}).get("clientOrderId"))
        if cid in self.stale:
            self.stale.discard(cid)
            return self.snapshots[cid]
        return super().fetch_order(id, symbol, params)


class PartsBot(Bot):
    """The one-way bot of test_cancel_reports_fill on a PartsVenue."""

    venue: PartsVenue

    def __init__(self, tmp: Path) -> None:
        self.tmp, self.venue, self.t, self.log = tmp, PartsVenue(), 1_700_000_000.0, Log()
        self.repo = Repository(tmp / "bot.sqlite", synchronous="normal", clock=self.now)
        rules = dataclasses.replace(make_rules(), id_tag=self.repo.id_tag)
        self.loop = DecisionLoop(SYM, core=as_core(SymbolCore(rules)), exchange=self.venue,
                                 repo=self.repo, log=self.log, on_escalate=lambda s, e: None,
                                 clock=self.now)
        self.other = ""
        self.loop.start()

    def report(self, cid: str) -> None:
        self.send(OrderActivity(client_order_ids=(cid,)))

    def rows_of(self, cid: str) -> list[tuple[D, D]]:
        """The ledger's (amount, price) rows of one order, in booking order."""
        with sqlite3.connect(self.tmp / "bot.sqlite") as c:
            rows = c.execute("SELECT amount, price FROM fills WHERE client_order_id = ? "
                             "ORDER BY rowid", (cid,)).fetchall()
        return [(D(a), D(p)) for a, p in rows]


def entry_in_two_parts(tmp: Path) -> tuple[PartsBot, str]:
    """The entry's create answer: 0.4 at 100, still executing; then 0.4 at 102, reported
    (0.8, average 101); a snapshot of the first part is kept for a lagging read."""
    bot = PartsBot(tmp)
    bot.tick("100")
    bot.venue.partial_entry = D("0.4")
    bot.send(ExternalSignal(side=Side.LONG, signal_id="s1"))
    entry = bot.loop.state.live_orders(OrderPurpose.ENTRY)[0].client_order_id
    bot.venue.snap(entry)  # 0.4, average 100
    bot.venue.mark = D(102)
    bot.venue.fill(entry, D("0.4"), D(102))
    bot.report(entry)
    return bot, entry


def test_an_older_fill_report_changes_nothing_and_the_next_part_is_priced_right(
        tmp_path: Path) -> None:
    bot, entry = entry_in_two_parts(tmp_path)
    bot.venue.stale.add(entry)
    bot.report(entry)  # the late read of the first part: 0.4, average 100
    order = bot.loop.state.order(entry)
    assert order is not None and (order.filled, order.average) == (D("0.8"), D(101))
    bot.venue.mark = D(104)
    bot.venue.fill(entry, D("0.2"), D(104))
    bot.report(entry)  # 1.0, average 101.6: the last 0.2 was at 104
    assert bot.rows_of(entry) == [(D("0.4"), 100), (D("0.4"), 102), (D("0.2"), 104)]
    state = bot.loop.state
    assert state.phase is Phase.OPEN and state.position is not None
    assert state.position.entry_price == D("101.6") == bot.venue.pos[PositionSide.NET].entry
    assert state.stop_price == D("100.5")  # 1 % below the venue's entry, on the tick
    bot.tick("103")
    bot.send(ExternalSignal(side=None, signal_id="s2"))
    assert bot.loop.state.phase is Phase.FLAT
    assert bot.ledger() == bot.venue_fills()  # the close's P&L is the venue's (1.40)


def test_a_repeated_report_of_a_finished_part_still_ends_the_order(tmp_path: Path) -> None:
    """The venue expired the rest of the entry: the report that says so adds no fill, and still
    ends it (the position opens with what filled and is protected)."""
    bot, entry = entry_in_two_parts(tmp_path)
    bot.venue.orders[entry].status = "expired"
    bot.report(entry)
    state = bot.loop.state
    assert state.order(entry) is None and state.phase is Phase.OPEN
    assert state.position is not None and state.position.contracts == D("0.8")
    assert state.position.entry_price == D(101) and state.live_orders(OrderPurpose.STOP)
    assert bot.ledger() == bot.venue_fills()
