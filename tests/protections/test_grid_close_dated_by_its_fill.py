"""The hedge grid dates a leg's close by the venue's fill time too: a leg stop that filled
while the bot was down, booked at the restart, starts the side's wait before it trades again
(`risk.cooldown_after_loss_s`) from its fill, and its ledger row carries that time (what the
daily loss limit and the stop-loss guard count by). Found by review: both were the restart's.

The grid core as the runtime builds it from a config file, driven through production's
decision loop (tests/trading/test_grid_core.py `Book`)."""

from __future__ import annotations

from decimal import Decimal as D
from pathlib import Path

from tests.trading.test_grid_core import Book, core_from_config
from tests.trading.test_grid_evidence import short_only_listed
from trading.events import ExternalFill, OrderFilled
from trading.grid.model import GridKind
from trading.model import Side


def test_a_leg_stop_filled_while_down_is_dated_by_its_fill(tmp_path: Path) -> None:
    book = Book(core_from_config(tmp_path, "cooldown_after_loss_s = 600"))
    book.open_both()
    stop = book.state.orders_of(Side.LONG, GridKind.STOP)[0]
    book.now += 7200  # the bot was down for two hours; the stop filled an hour after it went
    filled_s = book.now - 3600
    book.send(OrderFilled(client_order_id=stop.client_order_id, exchange_id="x",
                          filled=stop.amount, average=D("95"), fee=D("0.01"),
                          filled_at=int(filled_s * 1000)))
    assert not book.state.long.is_open
    [entry] = [e for e in book.ledger if e.client_order_id == stop.client_order_id]
    assert entry.at == filled_s
    assert book.state.next_open_at == filled_s + 600  # from the fill: over before the restart


def test_a_venue_time_ahead_of_the_booking_is_not_trusted(tmp_path: Path) -> None:
    book = Book(core_from_config(tmp_path, "cooldown_after_loss_s = 600"))
    book.open_both()
    stop = book.state.orders_of(Side.LONG, GridKind.STOP)[0]
    book.send(OrderFilled(client_order_id=stop.client_order_id, exchange_id="x",
                          filled=stop.amount, average=D("95"), fee=D("0.01"),
                          filled_at=int((book.now + 86_400) * 1000)))
    [entry] = [e for e in book.ledger if e.client_order_id == stop.client_order_id]
    assert entry.at == book.now  # the booking time (the decision's)
    assert book.state.next_open_at == book.now + 600


def test_a_leg_closed_by_hand_while_down_is_dated_by_its_trade(tmp_path: Path) -> None:
    """`closed_on_exchange`: the leg found flat at the restart, the trade list telling when it
    was sold by hand (at a loss); its ledger row and the wait after it are dated so."""
    book = Book(core_from_config(tmp_path, "cooldown_after_loss_s = 600"))
    book.open_both()
    book.now += 7200
    traded_s = book.now - 3600
    fill = ExternalFill(client_order_id="trade-9", side="sell", amount=D(1), price=D(90),
                        fee=D("0.05"), position_side=Side.LONG,
                        filled_at=int(traded_s * 1000))
    book.send(short_only_listed(book, (fill,)))
    assert not book.state.long.is_open and "LegClosed" in book.journal
    [entry] = [e for e in book.ledger if e.client_order_id == "trade-9"]
    assert entry.at == traded_s
    assert book.state.next_open_at == traded_s + 600
