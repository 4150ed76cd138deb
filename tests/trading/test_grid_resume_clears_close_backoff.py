"""A resumed hedge-grid symbol (`bot.py resume`: QuarantineLifted) closes a leg past its stop at
once, as the one-way core does (trading/lifecycle.py `on_lifted` clears `next_close_at`): the
grid cleared its close attempts but kept the leg's `close_retry_at`, so after a resume it
waited out the backoff of the attempts that had escalated."""

from __future__ import annotations

from decimal import Decimal as D

from tests.trading.test_grid_close_counted_before_send import _closes, _unprotected_long
from tests.trading.test_grid_core import Book
from trading.events import OrderFailed, PriceTicked, QuarantineLifted


def test_a_resume_closes_at_once_without_the_old_backoff():
    b = Book(max_close_attempts=3, close_backoff_initial_s=100.0,
             close_backoff_max_s=1000.0)
    _unprotected_long(b)
    for _ in range(3):  # three refused closes: escalated, the last backoff 400 s
        b.now += 1000
        (close,) = _closes(list(b.send(PriceTicked(price=D(90))).commands))
        b.send(OrderFailed(client_order_id=close.client_order_id, error="refused"))
    assert b.state.quarantined and b.state.long.close_retry_at > b.now + 100
    d = b.send(QuarantineLifted(by="operator"))  # the last price (90) is past the 95 stop
    assert not b.state.quarantined and b.state.long.close_retry_at == 0.0
    closes = _closes(list(d.commands))
    assert len(closes) == 1, "after the resume the leg waited out the old close backoff"
    assert b.state.long.close_attempts == 1
