"""Hedge grid: a leg that cannot open for a lasting reason (the account's position cap reached,
a size below the market's minimums) is tried again every open_retry_s, but the reason is
journaled once per leg and reason, not at every retry, as the one-way core's skipped entries
(trading/decide.py `skip_kind`, issue 16 item 17). A new reason is journaled; an opening order
placed starts again. Found by review: a capped account's every flat leg wrote an EntryRefused
row every 10 s for as long as the cap held. The grid core, its account gate's answers given
through `decide`'s `admit`."""

from __future__ import annotations

from decimal import Decimal as D

from tests.trading.test_grid_core import SYMBOL, rules
from trading.events import PriceTicked
from trading.grid.context import PlaceGridOrder
from trading.grid.core import GridCore
from trading.grid.model import GridKind, GridState


class Grid:
    """The core, fed a price every 30 s (past open_retry_s); the gate answers from a list."""

    def __init__(self, **over) -> None:
        self.core = GridCore(rules(**over))
        self.state = GridState(symbol=SYMBOL)
        self.now = 1000.0
        self.journal: list[str] = []
        self.answers: list[str | None] = [None]
        self.asked = 0

    def admit(self, kind: str, margin: D | None) -> str | None:
        self.asked += 1
        return self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]

    def price(self, price: str = "100") -> list:
        self.now += 30
        d = self.core.decide(self.state, PriceTicked(price=D(price)), self.now, admit=self.admit)
        self.state = d.state
        self.journal += [j.type for j in d.journal]
        return [c.order for c in d.commands
                if isinstance(c, PlaceGridOrder) and c.order.kind is GridKind.OPEN]


def test_a_lasting_refusal_is_journaled_once_and_asked_again_at_every_retry():
    g = Grid()
    cap = "risk.max_open_positions 3 reached (3 open)"
    g.answers = [cap]
    for _ in range(10):
        assert not g.price()
    assert g.asked == 10  # retried every time
    assert g.journal.count("EntryRefused") == 1
    g.answers = ["entries paused by person", None, cap]
    g.price()  # a new reason: journaled
    assert g.journal.count("EntryRefused") == 2
    assert g.price()  # admitted: the long's opening order is placed (the short's refused)
    assert g.journal.count("EntryRefused") == 3  # the short's, once
    g.price()
    assert g.journal.count("EntryRefused") == 3


def test_a_size_below_the_minimum_is_journaled_once():
    g = Grid(order_size_usdt=D(3))  # 0.03 at 100: 3 USDT, below the 5 USDT minimum
    for price in ("100", "101", "99") * 4:
        assert not g.price(price)
    assert g.journal.count("OpenSkipped") == 1
