"""Hedge grid: a fill by no order of ours (part of the long closed by hand) whose trade row
tells no fee in the settle currency: none at all (Binance's row without its commission asset,
a fee in another asset no price could be had for: the gateway says None), or one named in
another currency. The snapshot (actors/grid_snapshot.py) booked a missing fee as 0 without a
word, and a fee in another currency as that many USDT (0.0004 BNB booked as 0.0004 USDT). The
fill is booked (its quantity and P&L are evidence) without a fee, and one warning names the
symbol and the fill: the ledger's net is then high by that fee, and the reader is told.

The production DecisionLoop and grid core, a real SQLite repository, the fake hedge venue of
test_cancel_reports_fill.py."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from decimal import Decimal as D

import pytest

from actors.messages import Reconcile
from exchange.records import Fee
from tests.actors.test_cancel_reports_fill import SYM, grid
from tests.actors.test_grid_reduced_by_hand_booked import HandVenue


@dataclass
class HandFee(HandVenue):
    """The hand fills' trade rows tell `fee` (None: no fee)."""

    fee: Fee | None = None

    def fetch_my_trades(self, symbol=None, since=None, limit=None, params=None):
        return [t if t.client_order_id else dataclasses.replace(t, fee=self.fee)
                for t in self.trades]


@pytest.mark.parametrize("fee", [None, Fee(cost=D("0.0004"), currency="BNB")],
                         ids=["no_fee", "fee_in_bnb"])
def test_a_hand_fill_without_a_settle_fee_is_booked_without_it_and_said_once(tmp_path, fee):
    venue = HandFee(fee=fee)
    bot = grid(tmp_path, venue)
    try:
        bot.tick("100")
        fees = bot.loop.state.long.fees
        name = venue.reduce_long_by_hand(D("0.4"), D("101"))
        bot.send(Reconcile(reason="periodic"))
        bot.send(Reconcile(reason="periodic"))  # a second look, past any resize wait
        leg = bot.loop.state.long
        assert leg.is_open and leg.contracts == D("0.6")
        assert bot.ledger().get(name) == (D("0.4"), D(0), D("0.4")), bot.ledger()
        assert leg.fees == fees, "a fee not in USDT was booked as USDT"
        said = [w for w in bot.log.warnings if name in w]
        assert len(said) == 1 and SYM in said[0], bot.log.warnings
        bot.send(Reconcile(reason="periodic"))
        assert bot.rows(name) == 1 and len([w for w in bot.log.warnings if name in w]) == 1
    finally:
        bot.repo.close()


def test_a_leg_bought_into_and_closed_by_hand_without_fees_says_each_fill_once(tmp_path):
    """The other ways such fills are booked (a leg listed flat: a buy by hand into it, then a
    sell by hand of all of it): each booked without a fee, each said once."""
    venue = HandFee(fee=None)
    bot = grid(tmp_path, venue)
    try:
        bot.tick("100")
        bought = venue.grow_long_by_hand(D(1), D("102"))
        sold = venue.reduce_long_by_hand(D(2), D("103"))
        bot.send(Reconcile(reason="periodic"))
        bot.send(Reconcile(reason="periodic"))
        assert not bot.loop.state.long.is_open
        ledger = bot.ledger()
        assert ledger.get(bought) == (D(1), D(0), D(0)), ledger
        assert ledger.get(sold) == (D(2), D(0), D(4)), ledger
        for name in (bought, sold):
            said = [w for w in bot.log.warnings if name in w]
            assert len(said) == 1 and SYM in said[0], bot.log.warnings
    finally:
        bot.repo.close()
