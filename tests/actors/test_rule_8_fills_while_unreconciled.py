"""Rule 8: every exchange event for a symbol goes through that symbol's mailbox, in order, and
nothing is dropped while a sync is pending or failing. The actor whose reconciliation keeps
failing (fetch_positions down: not reconciled) still applies a fill reported for one of its
orders at once: the stop that filled on the exchange closes the position and books its P&L from
that fill, without waiting for a reconciliation that cannot run.

Real supervisor, actors, SQLite, paper exchange and market feed; fetch_positions fails through
an exchange wrapper given to the harness's constructor."""

from __future__ import annotations

from decimal import Decimal

from actors.messages import Reconcile
from exchange import errors
from storage import queries
from tests.support.faulty_exchange import FaultyExchange
from tests.support.harness import Harness
from trading.model import Side

BTC = "BTC/USDT:USDT"


def positions_down(name: str, args: tuple, kwargs: dict) -> None:
    raise errors.NetworkError("fetch_positions timed out (injected)")


def test_a_stop_fill_reported_while_unreconciled_is_applied_at_once(tmp_path):
    fx: list[FaultyExchange] = []
    h = Harness(tmp_path, [BTC], wrap=lambda paper: fx.append(FaultyExchange(paper)) or fx[0],
                risk={"trailing_activation_pct": Decimal(50)}).start()  # the stop stays put
    try:
        h.poll()
        assert h.signal(BTC, Side.LONG)
        h.idle(BTC)
        (stop,) = h.exchange_stops(BTC)
        assert h.view(BTC).phase == "open" and h.view(BTC).reconciled
        fx[0].before["fetch_positions"] = positions_down
        h.sup.tell(BTC, Reconcile(reason="periodic"))
        h.idle(BTC)
        assert not h.view(BTC).reconciled
        # the market falls through the stop: the exchange fills it while the bot is not looking
        for _ in range(20_000):
            h.clock.advance(60)
            h.paper.fetch_tickers([BTC])
            if h.exchange_position(BTC) is None:
                break
        assert h.exchange_position(BTC) is None, f"price never crossed {stop.trigger_price}"
        assert h.paper.fetch_order(None, BTC, {"clientOrderId": stop.client_order_id}
                                   ).status.value == "closed"
        h.poll()  # the feed reports the stop's fill: an OrderActivity in the actor's mailbox
        h.idle(BTC)  # everything told before this round trip has been handled
        assert h.view(BTC).phase == "flat", h.view(BTC)
        assert not h.view(BTC).reconciled  # no reconciliation could have done it
        assert fx[0].calls.get("fetch_positions", 0) >= 1
        closed = h.repo.read(queries.events, BTC, "PositionClosed")
        assert len(closed) == 1
        booked = {f.client_order_id for f in h.repo.read(queries.fills, BTC)}
        assert stop.client_order_id in booked
        assert h.repo.read(queries.ledger_net_pnl, BTC) == h.paper.realized_pnl_total(BTC)
    finally:
        h.stop()
