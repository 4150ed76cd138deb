"""A reconciliation asked for because the facts are in doubt (the venue's position stream
differs from the actor's books, an unknown fill, a report that could not be read, a stop not
found on the venue) and then set aside for an order report keeps entries waiting, as before
9d8051de: only a routine one (the supervisor's periodic reconciliation, and the Timer's retry of
one owed) found nothing wrong and may leave entries going on the last verified facts for
ASIDE_GRACE_S (tests/actors/test_set_aside_periodic_keeps_entries.py).

Found in the paper chaos campaign's review of 9d8051de: `ReconcileRetry.set_aside` marked every
set-aside reconciliation but a fee look as owed, entries going on, whatever asked for it. A
position opened on the venue that the actor did not know about (by hand, a fill it missed),
reported by the position stream: the reconciliation for that difference was set aside for an
unrelated order report, and an entry signal then entered on top of the unknown position (a
second position the bot never decided, on facts the venue had already contradicted).

A real SymbolActor (pykka thread, SQLite), the real ccxt gateway with its real rate budget in
wall time, the Bybit emulator on 127.0.0.1 (`no_weight_left`: the reconciliation waits for
budget, and an order report sets it aside)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from actors.messages import ExternalSignal, OrderActivity, Reconcile, Timer
from tests.actors.test_leverage_before_entry import CREATE, Rig, rig
from tests.actors.test_reconcile_set_aside import no_weight_left
from tests.actors.test_set_aside_periodic_keeps_entries import _outcome
from tests.support.waiting import wait_until
from trading.gate import NOT_RECONCILED
from trading.model import Side


def _set_aside(r: Rig, reason: str) -> None:
    with no_weight_left(r) as ip:
        waited = ip.waited_s
        r.ref.tell(Reconcile(reason=reason))
        wait_until(lambda: ip.waited_s > waited, message="the reconciliation waits for budget")
        r.ref.tell(OrderActivity(client_order_ids=("someone-elses",)))
        r.sync()  # behind the set-aside reconciliation and the report
    r.emu.clear()


@pytest.mark.parametrize("reason", ["position stream: net 0.01 on the venue, none here",
                                    "stop main-x-BTC-1s not on the exchange"])
def test_an_entry_waits_after_a_reconciliation_for_doubt_was_set_aside(tmp_path, reason):
    with rig(tmp_path, "bybit", 5, wall_time=True) as r:
        r.sync()  # the start's reconciliation is done
        assert r.view().reconciled
        # a long the actor does not know about (opened by hand on the venue)
        r.book.place(cid="by-hand-1", symbol="BTCUSDT", side="buy", type="market",
                     qty=Decimal("0.01"), price=None, trigger=None, trigger_direction=None,
                     reduce_only=False)
        _set_aside(r, reason)
        assert not r.view().reconciled  # the status says NOT RECONCILED
        r.ref.tell(ExternalSignal(side=Side.LONG, signal_id="sig-doubt", reason="external"))
        assert _outcome(r, "sig-doubt") == NOT_RECONCILED
        assert CREATE["bybit"] not in r.paths(), "an entry sent on facts the venue contradicts"
        assert r.book.position("BTCUSDT")[0] == Decimal("0.01")
        r.ref.tell(Timer())  # the heartbeat retries it: the venue's long is found
        r.sync()
        assert r.view().reconciled
