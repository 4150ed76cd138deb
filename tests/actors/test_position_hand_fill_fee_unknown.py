"""One-way core, sibling of the hedge grid's (tests/actors/test_grid_hand_fill_fee_unknown.py):
a fill by no order of ours (a sell or a buy by hand) whose trade row tells no fee in the settle
currency: none at all (Binance's row without its commission asset, a fee in another asset no
price could be had for: the gateway says None), or one named in another currency. The snapshot
(actors/exchange_snapshot.py `_external_fills`) read it as `fee_cost`: a missing fee was booked
as 0 without a word, a fee in another currency as that many USDT (0.0004 BNB as 0.0004 USDT).
The fill is booked (its quantity and P&L are evidence) without a fee, and one warning names
the symbol and the fill.

Production DecisionLoop, SymbolCore and CommandExecutor, a real SQLite Repository, the fake
one-way venue of tests/actors/test_position_resized.py."""

from __future__ import annotations

import dataclasses
from decimal import Decimal as D
from pathlib import Path

import pytest

from exchange.records import Fee
from tests.actors.test_cancel_reports_fill import SYM
from tests.actors.test_position_resized import Bot, long_one
from trading.model import Phase

ZERO = D(0)


def _without_fee(bot: Bot, fee: Fee | None) -> None:
    """The last trade (a fill by hand) tells `fee` instead of its USDT fee."""
    bot.venue.trades[-1] = dataclasses.replace(bot.venue.trades[-1], fee=fee)


def _said_once(bot: Bot, name: str) -> None:
    said = [w for w in bot.log.warnings if name in w]
    assert len(said) == 1 and SYM in said[0], bot.log.warnings


@pytest.mark.parametrize("fee", [None, Fee(cost=D("0.0004"), currency="BNB")],
                         ids=["no_fee", "fee_in_bnb"])
def test_a_hand_fill_without_a_settle_fee_is_booked_without_it_and_said_once(
        tmp_path: Path, fee: Fee | None) -> None:
    """A sell by hand of part of the position (listed smaller: `resized`)."""
    bot = long_one(tmp_path)
    bot.venue.manual("manual-cut", "sell", "0.4", "101")
    _without_fee(bot, fee)
    bot.reconcile(3)
    pos = bot.loop.state.position
    assert pos is not None and pos.contracts == D("0.6")
    assert bot.ledger().get("manual-cut") == (D("0.4"), ZERO, D("0.4")), bot.ledger()
    _said_once(bot, "manual-cut")
    bot.reconcile(2)
    assert bot.rows("manual-cut") == 1
    _said_once(bot, "manual-cut")


def test_a_position_grown_and_closed_by_hand_without_fees_says_each_fill_once(
        tmp_path: Path) -> None:
    """The other ways such fills are booked (the position listed flat: a buy by hand into it,
    then a sell by hand of all of it): each booked without a fee, each said once."""
    bot = long_one(tmp_path)
    bot.venue.manual("manual-add", "buy", "1", "102")
    _without_fee(bot, None)
    bot.venue.manual("manual-all", "sell", "2", "103")
    _without_fee(bot, None)
    bot.reconcile(3)
    assert bot.loop.state.phase is Phase.FLAT
    ledger = bot.ledger()
    assert ledger.get("manual-add") == (D(1), ZERO, ZERO), ledger
    assert ledger.get("manual-all") == (D(2), ZERO, D(4)), ledger
    _said_once(bot, "manual-add")
    _said_once(bot, "manual-all")
