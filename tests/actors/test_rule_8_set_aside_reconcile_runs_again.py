"""Rule 8: sync/reconciliation is itself a message, and nothing is dropped while it runs; that
includes the reconciliation itself. One set aside for an order report (it waited for rate
budget: tests/actors/test_reconcile_set_aside.py) is owed (actors/reconcile_retry.py `owe`)
and the next heartbeat `Timer` runs it again by itself. Found by the incident-rule mutation
audit: with a set-aside reconciliation leaving the symbol "reconciled", no test failed (the
set-aside test runs the retry by hand), and the set-aside sync was simply dropped until the
next periodic one (reconcile_interval_s later).

A real SymbolActor (pykka thread, SQLite), the real ccxt gateway with its real rate budget in
wall time, the Binance emulator."""

from __future__ import annotations

from actors.messages import OrderActivity, Reconcile, Timer
from tests.actors.live_emulator import live_long
from tests.actors.test_reconcile_set_aside import POSITIONS, no_weight_left
from tests.support.waiting import wait_until


def test_a_reconciliation_set_aside_for_a_report_is_run_again_by_the_next_timer(tmp_path):
    with live_long(tmp_path, "binanceusdm", wall_time=True) as bot:
        (stop,) = bot.stops()
        assert bot.view().reconciled
        with no_weight_left(bot) as ip:
            waited = ip.waited_s
            bot.ref.tell(Reconcile(reason="test"))
            wait_until(lambda: ip.waited_s > waited, message="the reconciliation waits")
            assert bot.book.cancel(stop)  # the venue removes the stop, its stream reports it
            bot.ref.tell(OrderActivity(client_order_ids=(stop.cid,)))
            wait_until(lambda: len(bot.stops()) == 1, timeout=20, message="a new stop rests")
        bot.sync()  # set aside, not done: owed (entries go on the last verified facts for a
        bot.emu.clear()  # while: tests/actors/test_set_aside_periodic_keeps_entries.py)
        bot.ref.tell(Timer())  # the heartbeat: nothing else asks for it
        bot.sync()
        assert ("GET", POSITIONS) in {(r.method, r.path) for r in bot.emu.requests}
        assert bot.view().reconciled
