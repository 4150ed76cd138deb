"""Funding payments in the pure cores (trading/funding.py): a ledger entry of quantity 0 whose
fee is what was paid (negative: received), against the position or leg open when the venue
settled it, or against none (journaled with why), never dropped; a closed position's net and
the cooldown after a loss see it."""

from __future__ import annotations

from decimal import Decimal as D

from tests.trading.conftest import make_rules
from tests.trading.test_grid_core import rules as grid_rules
from trading import funding
from trading.decide import SymbolCore
from trading.events import FundingSettled
from trading.grid.core import GridCore
from trading.grid.model import GridState, Leg
from trading.model import ClosedNet, Phase, Position, Side, SymbolState

BTC = "BTC/USDT:USDT"


def paid(fee: str, at: float = 500.0, record: str = "r1", side: Side | None = None):
    return FundingSettled(record_id=record, fee=D(fee), at=at, position_side=side)


def held(side: Side, opened_at: float = 100.0) -> SymbolState:
    return SymbolState(symbol=BTC, phase=Phase.OPEN, position=Position(
        position_id="p1", side=side, contracts=D("0.01"), entry_price=D(50000),
        opened_at=opened_at, fees=D("0.275")))


def test_a_long_paying_and_a_short_receiving_are_booked_on_the_open_position():
    core = SymbolCore(make_rules())
    d = core.decide(held(Side.LONG), paid("0.05"), 600.0)
    (e,) = d.ledger
    assert (e.client_order_id, e.position_id, e.side, e.amount, e.price, e.fee, e.realized_pnl) \
        == ("funding-r1", "p1", "buy", D(0), D(0), D("0.05"), D(0))
    assert d.state.position is not None and d.state.position.fees == D("0.325")
    d = core.decide(held(Side.SHORT), paid("-0.05"), 600.0)
    assert [(e.side, e.fee) for e in d.ledger] == [("sell", D("-0.05"))]
    assert d.state.position is not None and d.state.position.fees == D("0.225")
    (record,) = d.journal
    assert record == funding.FundingBooked(record="r1", fee=D("-0.05"), position_id="p1", why=None)
    assert d.commands == ()


def test_a_payment_on_a_flat_symbol_is_booked_against_no_position_and_journaled():
    core = SymbolCore(make_rules())
    d = core.decide(SymbolState(symbol=BTC), paid("0.07"), 600.0)
    assert [(e.position_id, e.fee, e.amount) for e in d.ledger] == [("", D("0.07"), D(0))]
    (record,) = d.journal
    assert record.position_id == "" and "no position" in (record.why or "")
    # a position opened after the payment's time did not pay it
    d = core.decide(held(Side.LONG, opened_at=700.0), paid("0.07"), 800.0)
    assert [e.position_id for e in d.ledger] == [""]


def test_a_payment_that_turns_the_last_close_into_a_loss_starts_the_cooldown():
    core = SymbolCore(make_rules(cooldown_after_loss_s=120.0))
    state = SymbolState(symbol=BTC, closed=ClosedNet(position_id="p0", net=D("0.03"),
                                                      closed_at=550.0))
    d = core.decide(state, paid("0.05", at=500.0), 600.0)
    assert [e.position_id for e in d.ledger] == ["p0"]
    assert d.state.closed is not None and d.state.closed.net == D("-0.02")
    assert d.state.cooldown_until == 670.0


def test_a_payment_settled_after_the_last_close_is_not_charged_to_it():
    """Mutation audit (helper y): with every payment on a flat symbol charged to the last
    closed position whatever its time (trading/funding.py `book_one_way` without
    `closed.closed_at >= at`), no test failed. A payment settled after that close was not paid
    by it (a position by hand, another bot's): charged to it, it lowered the close's net, 0.03
    to -0.02 here, and started a cooldown after a close that was a gain."""
    core = SymbolCore(make_rules(cooldown_after_loss_s=120.0))
    state = SymbolState(symbol=BTC, closed=ClosedNet(position_id="p0", net=D("0.03"),
                                                      closed_at=550.0))
    d = core.decide(state, paid("0.05", at=560.0), 600.0)
    assert [(e.position_id, e.fee) for e in d.ledger] == [("", D("0.05"))]
    assert d.state.closed is not None and d.state.closed.net == D("0.03")
    assert d.state.cooldown_until == 0.0
    (record,) = d.journal
    assert record.position_id == "" and "no position" in (record.why or "")


def grid_with(long: bool, short: bool) -> GridState:
    state = GridState(symbol=BTC)
    if long:
        state = state.with_leg(Leg(side=Side.LONG, position_id="L1", contracts=D("0.02"),
                                   entry_price=D(50000), opened_at=100.0))
    if short:
        state = state.with_leg(Leg(side=Side.SHORT, position_id="S1", contracts=D("0.01"),
                                   entry_price=D(50000), opened_at=100.0))
    return state


def test_the_grid_books_a_payment_on_the_leg_that_paid_it():
    core = GridCore(grid_rules())
    d = core.decide(grid_with(True, True), paid("0.1", side=Side.LONG), 600.0,
                    maintain_after=False)
    assert [(e.position_id, e.side, e.fee) for e in d.ledger] == [("L1", "buy", D("0.1"))]
    assert d.state.long.fees == D("0.1") and d.state.short.fees == D(0)
    d = core.decide(grid_with(True, True), paid("-0.05", side=Side.SHORT), 600.0,
                    maintain_after=False)
    assert [(e.position_id, e.fee) for e in d.ledger] == [("S1", D("-0.05"))]
    assert d.state.short.fees == D("-0.05")
    # the venue does not say (Binance): the only open leg, else none (journaled why)
    d = core.decide(grid_with(False, True), paid("0.02"), 600.0, maintain_after=False)
    assert [e.position_id for e in d.ledger] == ["S1"]
    d = core.decide(grid_with(True, True), paid("0.02"), 600.0, maintain_after=False)
    assert [e.position_id for e in d.ledger] == [""]
    assert "both legs" in (d.journal[0].why or "")
    d = core.decide(grid_with(False, False), paid("0.02"), 600.0, maintain_after=False)
    assert [(e.position_id, e.fee) for e in d.ledger] == [("", D("0.02"))]
