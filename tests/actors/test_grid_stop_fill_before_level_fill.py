"""Hedge grid: a stop's fill reported before the fill of the level it also closed. The stop
rests for the leg and its level (maintain.py `_cover`); a fast market fills the level, then the
stop, and the venue's reports (or our lookups of them) come in the other order: first the stop,
2 against a leg of 1 in our books, then the level.

Found by review: the core took the stop's excess as nothing (FillExceedsLeg), closed the leg,
and the level's report then opened a new long of 1 the venue never held (a phantom leg, given a
stop, a take-profit and levels of its own, while its P&L was booked on 1 contract of 2). Now the
excess of a reducing fill over the leg is taken as the fill of the leg's live level that
explains it, at the level's limit price (a resting level trades at its own price), booked
before the stop's fill; the level's own report then adds only its fee.

The production DecisionLoop and grid core, a real SQLite repository, the fake hedge venue of
test_cancel_reports_fill.py."""

from __future__ import annotations

from actors.messages import OrderActivity, Reconcile
from tests.actors.test_report_batch_lookup_fails import level_then_stop_filled


def test_a_stop_fill_reported_before_its_level_fill_leaves_no_phantom_leg(tmp_path):
    with level_then_stop_filled(tmp_path) as (bot, _, level, stop):
        bot.send(OrderActivity(client_order_ids=(stop,)))
        bot.send(OrderActivity(client_order_ids=(level,)))

        assert not bot.loop.state.long.is_open, "a long the venue does not hold"
        bot.send(Reconcile(reason="periodic"))  # the level's fee, looked up again
        assert not bot.loop.state.long.is_open
        assert bot.journal("FillExceedsLeg") == []
        assert bot.ledger() == bot.venue_fills()
