"""A close that filled all it asked for while the position grew meanwhile (bot-side stops: the
part of an entry through its stop is closed and the rest of the entry cancelled, but the rest
fills before its cancel lands) is sent again for what is left at once, as a slice is: it is
not a failed close attempt. Counted as one, it backed off and moved the symbol toward
escalation although nothing failed. Pure core, driven through `decide`."""

from __future__ import annotations

from decimal import Decimal as D

from tests.trading.test_partial_fills import Core
from trading.events import PriceTicked
from trading.model import OrderPurpose, Phase


def test_a_close_outgrown_by_the_entry_s_rest_is_sent_again_uncounted():
    c = Core(bot_side_stops=True)
    entry = c.entry()
    c.report(entry, "0.5", complete=False)
    c.send(PriceTicked(price=D("98.9")))  # the part is through its stop: closed at once
    (close,) = c.placed(OrderPurpose.CLOSE)
    assert close.amount == D("0.5") and c.state.close_attempts == 1
    c.report(entry, "1", complete=True, price="98.9")  # its rest filled before the cancel
    assert c.state.phase is Phase.CLOSING and c.state.position.contracts == D("1")
    c.report(close, "0.5", complete=True, price="98.9")  # the close filled in full
    assert c.state.position.contracts == D("0.5")
    assert "CloseFailed" not in c.journal(), "a close that filled in full counted as failed"
    (again,) = c.placed(OrderPurpose.CLOSE)
    assert again.amount == D("0.5") and c.state.close_attempts == 1
    c.report(again, "0.5", complete=True, price="98.9")
    assert c.state.phase is Phase.FLAT and c.state.position is None
