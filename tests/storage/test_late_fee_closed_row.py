"""A fee the venue tells after the position closed (every Binance close: trading/late_fees.py)
reaches the closed position's row, not only the ledger. Found by review: the row (what the
trades list, the dashboard and the status read) stayed short of the fee while the ledger had
it. The one-way core's decisions, committed to a real SQLite repository as the actor does."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from storage import queries
from storage.models import PositionRow
from storage.repository import Repository
from tests.trading.test_partial_fills import Core
from trading.events import (
    ExchangeOrder,
    FeesLooked,
    OrderAccepted,
    OrderFilled,
    PriceTicked,
    SignalRaised,
)
from trading.model import OrderPurpose, Side


@pytest.mark.parametrize("clock", ["system", "one reading"])
def test_an_exit_fee_told_after_the_close_is_in_the_closed_row(tmp_path, clock) -> None:  # noqa: ANN001
    """"one reading": every commit reads the same time (a coarse clock, a test clock). The fee's
    commit then had the close's `closed_at`, and the row was left out as closed by it."""
    kw = {"clock": lambda: 1_700_000_000.0} if clock == "one reading" else {}
    repo = Repository(tmp_path / "bot.sqlite", synchronous="normal", **kw)
    try:
        c = Core()
        symbol = c.state.symbol
        inc = repo.claim(symbol)

        def send(event, at=None):  # noqa: ANN001, ANN202
            before = c.state
            d = c.send(event, at)
            repo.commit(symbol, inc, before, d, correlation_id="c", created_at=c.now)
            return d

        send(PriceTicked(price=D(100)))
        send(SignalRaised(side=Side.LONG))
        (entry,) = c.placed(OrderPurpose.ENTRY)
        send(OrderFilled(client_order_id=entry.client_order_id, exchange_id="x1", filled=D(1),
                         average=D(100), fee=D("0.02"), complete=True))
        (stop,) = c.placed(OrderPurpose.STOP)
        send(OrderAccepted(client_order_id=stop.client_order_id, exchange_id="x2"))
        send(SignalRaised(side=None, reason="strategy_exit"))
        (close,) = c.placed(OrderPurpose.CLOSE)
        send(OrderFilled(client_order_id=close.client_order_id, exchange_id="x3", filled=D(1),
                         average=D("100.04"), fee=D(0), complete=True, fee_known=False))
        pid = entry.client_order_id
        row = repo.read(lambda: PositionRow.get(PositionRow.position_id == pid))
        assert (row.status, D(row.fees)) == ("closed", D("0.02"))  # the exit fee not told yet

        told = ExchangeOrder(client_order_id=close.client_order_id, exchange_id="x3",
                             status="closed", filled=D(1), average=D("100.04"), fee=D("0.05"))
        d = send(FeesLooked(orders={close.client_order_id: told}), at=c.now + 6)
        assert [e.fee for e in d.ledger] == [D("0.05")]
        row = repo.read(lambda: PositionRow.get(PositionRow.position_id == pid))
        assert D(row.fees) == D("0.07")  # both fees, as the ledger
        ledger_fees = sum((D(f.fee) for f in repo.read(queries.fills, symbol)), D(0))
        assert ledger_fees == D("0.07")
        send(FeesLooked(orders={close.client_order_id: told}), at=c.now + 20)  # told again
        row = repo.read(lambda: PositionRow.get(PositionRow.position_id == pid))
        assert D(row.fees) == D("0.07")  # nothing booked twice
    finally:
        repo.close()
