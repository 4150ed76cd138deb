"""Hedge grid levels follow the one-way entries' rule (actors/reconcile_retry.py `current`): a
level (a limit that grows a leg) waits while the symbol's last reconciliation failed, as an entry
and a leg's opening do at the account's gate, and is placed again once one succeeds; a periodic
reconciliation merely set aside for an order report holds nothing back.

Found by review of the set-aside rule: levels waited only for the incarnation's first
reconciliation (`verified`), so after a failed periodic one (a venue answering 503) they went on
growing a leg on books the venue had not confirmed, while the one-way style's entries waited.
A real grid actor (pykka thread, SQLite), the real ccxt gateway, the Bybit emulator in hedge
mode; the venue cancels a resting level and its report tells the actor."""

from __future__ import annotations

from typing import Any

from actors.messages import OrderActivity, Reconcile
from tests.actors.live_emulator import Live, live_long
from tests.actors.test_reconcile_set_aside import no_weight_left
from tests.support.waiting import wait_until

POSITIONS = "/v5/position/list"


def _levels(bot: Live) -> list[Any]:
    """Resting limit orders that grow a leg (not take-profits)."""
    return [o for o in bot.book.orders.values()
            if o.trigger is None and o.status == "open" and not o.reduce_only]


def _cancel_a_level(bot: Live) -> Any:
    """The venue cancels one resting level and reports it; the level, once handled."""
    wait_until(lambda: _levels(bot), message="levels rest")
    bot.sync()
    gone = _levels(bot)[0]
    assert bot.book.cancel(gone)
    bot.ref.tell(OrderActivity(client_order_ids=(gone.cid,)))
    bot.sync()
    return gone


def _replaced(bot: Live, gone: Any) -> bool:
    return any(o.side == gone.side and o.cid != gone.cid for o in _levels(bot))


def test_no_level_while_the_last_reconciliation_failed_then_placed_again(tmp_path):
    with live_long(tmp_path, "bybit", grid=True) as bot:
        wait_until(lambda: _levels(bot), message="levels rest")
        bot.sync()
        bot.emu.fail_next(POSITIONS, 50, status=503)
        bot.ref.tell(Reconcile(reason="periodic"))
        bot.sync()
        bot.emu.clear_faults(POSITIONS)
        assert not bot.view().reconciled
        gone = _cancel_a_level(bot)
        assert not _replaced(bot, gone), "a level placed after the reconciliation failed"
        bot.reconcile(1)  # succeeds: the level is placed again
        wait_until(lambda: _replaced(bot, gone), timeout=20, message="the level placed again")
        assert bot.view().reconciled


def test_a_level_is_placed_again_after_a_periodic_reconciliation_set_aside(tmp_path):
    with live_long(tmp_path, "bybit", grid=True, wall_time=True) as bot:
        wait_until(lambda: _levels(bot), message="levels rest")
        bot.sync()
        with no_weight_left(bot) as ip:
            waited = ip.waited_s
            bot.ref.tell(Reconcile(reason="periodic"))
            wait_until(lambda: ip.waited_s > waited, message="the reconciliation waits")
            bot.ref.tell(OrderActivity(client_order_ids=("someone-elses",)))
            bot.sync()
        assert bot.view().reconciled  # owed, not failed
        gone = _cancel_a_level(bot)
        wait_until(lambda: _replaced(bot, gone), timeout=20, message="the level placed again")
