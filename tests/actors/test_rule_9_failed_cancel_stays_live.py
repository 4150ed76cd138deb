"""Rule 9: when a position closes, every order that belonged to it is cancelled and confirmed
cancelled. A cancel that fails (a network error) confirms nothing: the order stays live in the
state and in the database, no OrderCanceled is journaled, and it is cancelled again later (the
next reconciliation), until the exchange confirms it.

Real supervisor, actors, SQLite and paper exchange; the cancel fails through an exchange wrapper
given to the harness's constructor."""

from __future__ import annotations

import sqlite3

from actors.messages import Reconcile
from exchange import errors
from storage import queries
from tests.support.faulty_exchange import FaultyExchange
from tests.support.harness import Harness
from tests.support.waiting import wait_until
from trading.model import OrderStatus, Side

BTC = "BTC/USDT:USDT"


def cancel_fails(name: str, args: tuple, kwargs: dict) -> None:
    raise errors.NetworkError("connection reset (injected)")


def canceled_journal(h: Harness, cid: str) -> list[dict]:
    return [e for e in h.repo.read(queries.events, BTC, "OrderCanceled")
            if e["data"].get("order") == cid]


def db_status(h: Harness, cid: str) -> str:
    with sqlite3.connect(h.tmp / "bot.sqlite") as c:
        return c.execute("SELECT status FROM orders WHERE client_order_id=?", (cid,)).fetchone()[0]


def test_a_failed_cancel_leaves_the_order_live_and_it_is_cancelled_again_later(tmp_path):
    fx: list[FaultyExchange] = []
    h = Harness(tmp_path, [BTC], wrap=lambda paper: fx.append(FaultyExchange(paper)) or fx[0],
                risk={"cooldown_after_loss_s": 0}).start()
    try:
        h.poll()
        assert h.signal(BTC, Side.LONG)
        h.idle(BTC)
        (stop,) = h.exchange_stops(BTC)
        cid = stop.client_order_id
        assert h.views[BTC].state.order(cid).status is OrderStatus.OPEN
        fx[0].before["cancel_order"] = cancel_fails
        assert h.signal(BTC, None)  # exit: the close fills, then the stop's cancel fails
        h.idle(BTC)
        assert h.exchange_position(BTC) is None and h.view(BTC).phase == "flat"
        assert fx[0].calls.get("cancel_order", 0) >= 1
        # nothing confirmed the cancel: the stop is still live everywhere
        assert [o.client_order_id for o in h.exchange_stops(BTC)] == [cid]
        order = h.views[BTC].state.order(cid)
        assert order is not None and order.status.live, order
        assert db_status(h, cid) == "open"
        assert canceled_journal(h, cid) == []
        # the venue answers again: the next reconciliation sends the cancel again
        del fx[0].before["cancel_order"]
        tried = fx[0].calls["cancel_order"]
        h.sup.tell(BTC, Reconcile(reason="periodic"))
        h.idle(BTC)
        wait_until(lambda: not h.exchange_stops(BTC), message="the stop cancelled on the exchange")
        assert fx[0].calls["cancel_order"] > tried
        wait_until(lambda: h.views[BTC].state.order(cid) is None
                   or not h.views[BTC].state.order(cid).status.live, message="cancel confirmed")
        assert len(canceled_journal(h, cid)) == 1
        assert db_status(h, cid) == "canceled"
        assert h.paper.fetch_open_orders(BTC) == []
    finally:
        h.stop()
