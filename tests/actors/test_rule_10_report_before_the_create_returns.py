"""Rule 10 (incident 10): the client order id is assigned and persisted before the call, so an
exchange update about the order is matched whenever it arrives: also while our record of it
is still pending because the create call's own answer never came back (a timeout after the
order landed, its lookups timing out too: the outcome is unknown).

Real parts: the supervisor, a pykka actor, real SQLite, the paper exchange behind a wrapper
(injected through the harness constructor) that lets the entry land, then raises a timeout
from the create call and from every lookup until the call has returned. The fill report then
comes through the real market feed's poll. Found by a mutation audit: with the actor skipping
reports of orders still pending, no test failed (only a later reconciliation found the fill)."""

from __future__ import annotations

import threading

from exchange import errors
from tests.support.faulty_exchange import FaultyExchange, is_close_order, params_of
from tests.support.harness import Harness
from tests.support.waiting import wait_until
from trading.model import Side

BTC = "BTC/USDT:USDT"
LOOKUPS = ("fetch_order", "fetch_open_orders", "fetch_closed_orders", "fetch_canceled_orders",
           "fetch_orders", "fetch_my_trades", "fetch_canceled_and_closed_orders")


def test_a_fill_report_for_an_entry_whose_create_never_answered_is_matched(tmp_path):
    box: dict = {}

    def wrap(paper):
        box["fx"] = FaultyExchange(paper)
        return box["fx"]

    h = Harness(tmp_path, [BTC], wrap=wrap).start()
    fx = box["fx"]
    try:
        h.poll()
        h.idle(BTC)
        blind = threading.Event()
        entries: list[str] = []

        def landed_then_timeout(name, args, kwargs, result):  # noqa: ANN001
            p = params_of(args, kwargs)
            if not p.get("reduceOnly") and not is_close_order(args, kwargs) and not entries:
                entries.append(p["clientOrderId"])
                blind.set()
                raise errors.RequestTimeout("read timed out (the order landed)")

        def unreadable(name, args, kwargs):  # noqa: ANN001
            if blind.is_set():
                raise errors.RequestTimeout(f"{name}: read timed out")

        fx.after["create_order"] = landed_then_timeout
        for name in LOOKUPS:
            fx.before[name] = unreadable
        assert h.signal(BTC, Side.LONG)
        h.idle(BTC)  # the signal is handled: the entry's outcome is unknown
        blind.clear()
        assert len(entries) == 1 and h.exchange_position(BTC) is not None  # it did land
        view = h.view(BTC)
        assert view.position is None  # precondition: our record of the entry is still pending
        h.poll()  # the venue's fill report reaches the actor through its mailbox
        wait_until(lambda: h.view(BTC).position is not None, timeout=10,
                   message="the report of the pending entry matched and booked")
        wait_until(lambda: h.exchange_stops(BTC), timeout=10, message="its stop placed")
    finally:
        h.stop()
