"""One-way core, sibling of the hedge grid's
(tests/actors/test_grid_unlisted_order_fee_other_asset.py): one of our own orders its lookup
does not find, whose part not yet applied reconciliation books from the venue's trades
(actors/exchange_snapshot.py `_external_fills`), and whose trade tells its fee in another
asset than the settle currency. The fill was booked without a fee with one warning, but the
order was never made owed: its fee was never looked up again, though its next lookup tells it
(the ledger's net high by that fee for good). As the grid's: the order is owed
(trading/late_fees.py) and its fee booked when a lookup tells it, once.

Production DecisionLoop, SymbolCore and CommandExecutor, a real SQLite Repository, the fake
one-way venue of tests/actors/test_position_resized.py."""

from __future__ import annotations

import dataclasses
from decimal import Decimal as D
from pathlib import Path

from exchange.records import Fee
from tests.actors.test_position_resized import entry_of, long_one
from trading.model import OrderPurpose, Phase


def test_an_entry_booked_from_trades_with_a_fee_in_bnb_is_owed_and_its_fee_booked_later(
        tmp_path: Path) -> None:
    bot = long_one(tmp_path, partial="0.4")  # the create answer: 0.4 at 100, still executing
    entry = entry_of(bot)
    bot.venue.fill(entry, D("0.6"), D("100.5"))  # the rest; its report never comes
    bot.venue.trades[-1] = dataclasses.replace(
        bot.venue.trades[-1], fee=Fee(cost=D("0.0004"), currency="BNB"))
    bot.venue.not_found.add(entry)  # its lookup misses once: booked from the trades
    bot.reconcile(1)
    pos = bot.loop.state.position
    assert pos is not None and pos.contracts == D("1.0")
    first = bot.venue.trades[0].fee_cost  # the 0.4's fee, told by the create answer
    assert bot.ledger()[entry][1] == first, "a fee in BNB booked as USDT"
    assert [o.order.client_order_id for o in bot.loop.state.fees_owed] == [entry]
    bot.reconcile(2)  # its lookup finds it now, its fee told in USDT
    assert bot.ledger()[entry][1] == bot.venue.orders[entry].fee, bot.ledger()
    assert bot.loop.state.fees_owed == ()
    assert pos.fees + bot.venue.orders[entry].fee - first == bot.loop.state.position.fees
    assert not [w for w in bot.log.warnings if entry in w], bot.log.warnings


def test_a_stop_booked_from_trades_with_a_fee_in_bnb_charges_the_closed_position_later(
        tmp_path: Path) -> None:
    """The same for the position's stop, filled and gone from its lookup: the position is
    closed from the trades (`closed_elsewhere`), and the fee told later is off its net."""
    bot = long_one(tmp_path)
    stop = bot.loop.state.live_orders(OrderPurpose.STOP)[0].client_order_id
    bot.venue.fill(stop, price=D(99))  # its report never comes
    bot.venue.trades[-1] = dataclasses.replace(
        bot.venue.trades[-1], fee=Fee(cost=D("0.0004"), currency="BNB"))
    bot.venue.not_found.add(stop)
    bot.reconcile(1)
    assert bot.loop.state.phase is Phase.FLAT
    assert bot.ledger()[stop][1] == D(0), "a fee in BNB booked as USDT"
    assert [o.order.client_order_id for o in bot.loop.state.fees_owed] == [stop]
    assert bot.loop.state.closed is not None
    net = bot.loop.state.closed.net
    bot.reconcile(2)  # its lookup tells the fee in USDT
    assert bot.ledger()[stop][1] == bot.venue.orders[stop].fee, bot.ledger()
    assert bot.loop.state.fees_owed == ()
    assert bot.loop.state.closed is not None
    assert bot.loop.state.closed.net == net - bot.venue.orders[stop].fee
    assert not [w for w in bot.log.warnings if stop in w], bot.log.warnings
