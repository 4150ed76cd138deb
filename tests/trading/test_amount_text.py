"""Order amounts are written with their digits: `amount_down` normalized 680 to 6.8E+2, which
reached the journal, the logs and the trade notices as "6.8E+2" and "1E+3" (seen in a live
Bybit soak: `LegOpened {... 'ref_qty': '6.8E+2'}`). The grid's status view had the same habit."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from actors.grid_view import _short
from tests.trading.test_grid_core import Book
from trading.events import PriceTicked
from trading.grid.model import GridKind
from trading.model import Side
from trading.rules import MarketRules


@pytest.mark.parametrize(("step", "amount", "text"), [
    ("1", "680.7", "680"), ("1", "1500", "1500"), ("10", "1009", "1000"), ("0.1", "20.06", "20"),
    ("0.001", "0.0305", "0.03"), ("0.001", "2.0004", "2"), ("0.01", "12.345", "12.34"),
])
def test_amounts_round_down_to_the_step_and_print_with_their_digits(step, amount, text):
    rules = MarketRules(amount_step=D(step), price_tick=D("0.0001"), min_amount=D(step),
                        min_cost=D(5))
    value = rules.amount_down(D(amount))
    assert str(value) == text and value == D(text)


def test_a_grid_leg_of_a_whole_amount_is_journaled_and_shown_without_an_exponent():
    b = Book(market=MarketRules(amount_step=D(1), price_tick=D("0.0001"), min_amount=D(1),
                                min_cost=D(5)), order_size_usdt=D(100))
    b.send(PriceTicked(price=D("0.125")))  # 100 USDT / 0.125 = 800 contracts
    b.fill(b.placed(GridKind.OPEN, Side.LONG)[0], "0.125")
    opened = next(d for d in b.repo.decisions for j in d.journal if j.type == "LegOpened")
    data = next(j.data for j in opened.journal if j.type == "LegOpened")
    assert (str(data["amount"]), str(data["ref_qty"])) == ("800", "800"), data
    assert _short(D("1000.000000001")) == "1000"
