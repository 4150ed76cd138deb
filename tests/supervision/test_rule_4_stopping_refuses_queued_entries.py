"""Rule 4: on SIGTERM/SIGINT new entries stop at once. The runner calls `Supervisor.stopping()`
first thing (runtime/runner.py); the actors are told `BlockEntries` only later, in `stop()`,
behind whatever their mailboxes already hold. So an entry signal already queued behind a busy
actor's current message must be refused when it is handled after `stopping()`: it must not
open a position on the way down.

Real parts: the real supervisor, a real pykka actor, real SQLite, the paper exchange; the actor
is held inside a real exchange call (a reconciliation's fetch_positions) by an event the test
releases. Found by a mutation audit: with `entries_blocked` ignoring `stopping()`, no test
failed."""

from __future__ import annotations

import threading

from actors.messages import Reconcile
from tests.support.faulty_exchange import FaultyExchange, params_of
from tests.support.harness import Harness
from tests.support.waiting import wait_until
from trading.model import Side

BTC = "BTC/USDT:USDT"


def test_an_entry_signal_queued_before_sigterm_opens_nothing(tmp_path):
    box: dict = {}

    def wrap(paper):
        box["fx"] = FaultyExchange(paper)
        return box["fx"]

    h = Harness(tmp_path, [BTC], wrap=wrap).start()
    fx = box["fx"]
    h.poll()  # the actor has a price: an entry signal would open a position
    h.idle(BTC)
    entered = threading.Event()
    release = threading.Event()
    creates: list[dict] = []

    def hold(name, args, kwargs):  # noqa: ANN001
        if not release.is_set():
            entered.set()
            release.wait(30)

    fx.before["fetch_positions"] = hold
    fx.before["create_order"] = lambda name, args, kwargs: creates.append(params_of(args, kwargs))
    try:
        assert h.sup.tell(BTC, Reconcile(reason="test: busy"))
        wait_until(entered.is_set, message="the actor is inside fetch_positions")
        assert h.signal(BTC, Side.LONG)  # queued behind the reconciliation
        h.sup.stopping()  # SIGTERM: what the runner does first
    finally:
        release.set()
    try:
        h.idle(BTC)  # the reconciliation, then the queued signal, are handled
        assert creates == []  # no entry order was sent after the stop began
        assert h.exchange_position(BTC) is None
        view = h.view(BTC)
        assert view is not None and view.position is None
    finally:
        h.stop()
