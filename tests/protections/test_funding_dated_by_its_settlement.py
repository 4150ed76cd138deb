"""A funding payment is dated by the venue's settlement time (never past the booking time):
one settled while the bot was down, booked at the restart, counts toward the UTC day it was
paid in, as the fills do (found by review: it was dated at the restart, so a day's loss could
include yesterday's funding). Both cores, pure (trading/funding.py)."""

from __future__ import annotations

from decimal import Decimal as D

from tests.trading.conftest import make_rules
from tests.trading.test_funding_core import BTC, held, paid
from tests.trading.test_grid_core import rules as grid_rules
from trading.decide import SymbolCore
from trading.grid.core import GridCore
from trading.grid.model import GridState, Leg
from trading.model import Side


def test_a_one_way_payment_is_dated_by_its_settlement():
    core = SymbolCore(make_rules())
    (e,) = core.decide(held(Side.LONG), paid("0.05", at=500.0), 90_000.0).ledger
    assert e.at == 500.0
    (e,) = core.decide(held(Side.LONG), paid("0.05", at=1e12), 90_000.0).ledger
    assert e.at == 90_000.0  # a venue time ahead of ours: the booking time


def test_a_grid_payment_is_dated_by_its_settlement():
    core = GridCore(grid_rules())
    leg = Leg(side=Side.LONG, position_id="L1", contracts=D(1), entry_price=D(100),
              opened_at=100.0)
    state = GridState(symbol=BTC).with_leg(leg)
    (e,) = core.decide(state, paid("0.05", at=500.0, side=Side.LONG), 90_000.0).ledger
    assert e.at == 500.0
