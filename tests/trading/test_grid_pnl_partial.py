"""A hedge-grid take-profit that fills in parts is booked with the exchange's realized P&L, once.

The exchange reports an order's realized P&L cumulatively (the sum over its fills so far). When
the order's trades are unreadable for a moment, the part that was new is booked with the P&L
the core computes; whatever was booked, from either source, counts as booked for the order, so
the next cumulative report books only the difference. Before the fix the core's part was not
counted: the next report booked the exchange's cumulative P&L in full, the first part twice.

Production classes: DecisionLoop with the grid core and its GridExecutor, a real SQLite
Repository, and the fake venue of tests/actors/test_cancel_reports_fill.py injected through the
loop's constructor: it fills resting orders in parts, as a real venue does and the paper exchange
does not, and reports each fill's realized P&L like Binance; here its calls also fail on demand."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from decimal import Decimal as D
from pathlib import Path
from typing import Any

from actors.messages import OrderActivity, Reconcile
from exchange import errors
from tests.actors.test_cancel_reports_fill import Bot, Venue, grid
from trading.grid.model import GridKind
from trading.model import Side


@dataclass
class FailingVenue(Venue):
    """`fail` makes the named calls raise a network error that many times."""

    fail: dict[str, int] = field(default_factory=dict)

    def _maybe_fail(self, name: str) -> None:
        if self.fail.get(name, 0) > 0:
            self.fail[name] -= 1
            raise errors.NetworkError(f"{name}: injected network error")

    def create_order(self, *args: Any, **kwargs: Any) -> Any:
        self._maybe_fail("create_order")
        return super().create_order(*args, **kwargs)

    def cancel_order(self, *args: Any, **kwargs: Any) -> Any:
        self._maybe_fail("cancel_order")
        return super().cancel_order(*args, **kwargs)

    def fetch_order(self, *args: Any, **kwargs: Any) -> Any:
        self._maybe_fail("fetch_order")
        return super().fetch_order(*args, **kwargs)

    def fetch_my_trades(self, *args: Any, **kwargs: Any) -> Any:
        self._maybe_fail("fetch_my_trades")
        return super().fetch_my_trades(*args, **kwargs)


def _bot(tmp_path: Path) -> tuple[Bot, FailingVenue]:
    """One grid symbol: the production decision loop on the failing venue, a real SQLite file."""
    venue = FailingVenue()
    return grid(tmp_path, venue), venue


def _long_take_profit(bot: Bot) -> str:
    """The long's take-profit (1 contract at 100.5 after the legs open at 100)."""
    bot.tick("100")
    tp = bot.loop.state.orders_of(Side.LONG, GridKind.TP)[0]
    assert (tp.amount, tp.price) == (D(1), D("100.5"))
    bot.venue.mark = D("100.5")
    return tp.client_order_id


def _activity(bot: Bot, cid: str) -> None:
    bot.send(OrderActivity(client_order_ids=(cid,)))


def _long_closed_pnl(bot: Bot) -> list[D]:
    return [D(d["realized_pnl"]) for d in map(json.loads, bot.journal("LegClosed"))
            if d["leg"] == "long"]


def _filled(bot: Bot, cid: str) -> D:
    order = bot.loop.state.order(cid)
    return order.filled if order is not None else D(-1)


def test_a_part_priced_by_the_core_is_not_booked_again_with_the_next_cumulative_report(
        tmp_path: Path) -> None:
    bot, venue = _bot(tmp_path)
    try:
        tp = _long_take_profit(bot)
        venue.fill(tp, D("0.4"))  # 0.4 at 100.5: the exchange books 0.2
        # its trades are unreadable once (the core prices the part: 0.2); the stop and
        # take-profit replacements fail, so the old take-profit keeps resting for the rest
        venue.fail = {"fetch_my_trades": 1, "create_order": 2}
        _activity(bot, tp)
        assert _filled(bot, tp) == D("0.4") and venue.fail["fetch_my_trades"] == 0
        venue.fill(tp)  # the rest, 0.6 at 100.5: the exchange books 0.3 (0.5 in all)
        _activity(bot, tp)
        assert not bot.loop.state.long.is_open
        assert bot.ledger()[tp] == bot.venue_fills()[tp] == (D(1), D("0.050250"), D("0.5"))
        assert bot.ledger() == bot.venue_fills()
        assert _long_closed_pnl(bot) == [D("0.5")]
    finally:
        bot.repo.close()


def test_a_part_priced_by_the_core_between_two_exchange_reports_is_booked_once(
        tmp_path: Path) -> None:
    """The mirror case: the first part carries the exchange's P&L, the second the core's, the
    third the exchange's cumulative P&L of all three."""
    bot, venue = _bot(tmp_path)
    try:
        tp = _long_take_profit(bot)
        venue.fail = {"create_order": 100}  # no replacement rests: the old take-profit fills
        venue.fill(tp, D("0.3"))  # the exchange books 0.15, and reports it
        _activity(bot, tp)
        venue.fill(tp, D("0.3"))  # 0.15 again, unreadable: the core books its own 0.15
        venue.fail["fetch_my_trades"] = 1
        _activity(bot, tp)
        assert _filled(bot, tp) == D("0.6") and venue.fail["fetch_my_trades"] == 0
        venue.fill(tp)  # 0.4: 0.2, reported as 0.5 for the order
        _activity(bot, tp)
        assert not bot.loop.state.long.is_open
        assert bot.ledger()[tp][2] == D("0.5")
        assert bot.ledger() == bot.venue_fills()
        assert _long_closed_pnl(bot) == [D("0.5")]
    finally:
        bot.repo.close()


def test_the_rest_found_by_reconciliation_books_only_what_the_core_did_not(
        tmp_path: Path) -> None:
    """The rest of the order is found by a periodic reconciliation, with the exchange's
    cumulative P&L from its trades (actors/grid_snapshot.py)."""
    bot, venue = _bot(tmp_path)
    try:
        tp = _long_take_profit(bot)
        venue.fill(tp, D("0.4"))
        venue.fail = {"fetch_my_trades": 1, "create_order": 2}
        _activity(bot, tp)
        assert _filled(bot, tp) == D("0.4") and venue.fail["fetch_my_trades"] == 0
        venue.fill(tp)
        bot.send(Reconcile(reason="periodic"))
        assert not bot.loop.state.long.is_open
        assert bot.ledger()[tp][2] == D("0.5")
        assert bot.ledger() == bot.venue_fills()
        assert _long_closed_pnl(bot) == [D("0.5")]
    finally:
        bot.repo.close()
