"""A fill found on the exchange that closed more than the books held (the exchange held more:
a buy by hand whose trade is older than the lookup) is booked for what the books held, with
the venue's whole fee (trading/unbooked_fills.py `_book_exits`): a fill is booked once, so the
fee of the part left out is never booked later. Mutation audit (helper y): with the fee
prorated to the part taken (the bug the docstring says review found), no test failed.

Long 1 @ 100 (entry fee 1 * 100 * 0.0005 = 0.05, tests/trading/scenario.py), protected. The
exchange then lists no position; its trades show a sell by hand of 1.5 @ 102, fee 0.153
(1.5 * 102 * 0.001). Booked: 1 contract, gross (102 - 100) * 1 = 2, fee 0.153 (prorated it
would be 0.102); the position's fees 0.05 + 0.153 = 0.203, net 2 - 0.203 = 1.797.
"""

from __future__ import annotations

from decimal import Decimal as D

from tests.trading.test_evidence_before_closing import empty_list, protected_long
from trading.events import ExternalFill
from trading.model import Phase


def test_a_hand_close_larger_than_the_books_is_booked_with_its_whole_fee(core):
    sc = protected_long(core)
    sc.send(empty_list(sc))  # first a contradiction, then the evidence
    fills = (ExternalFill(client_order_id=None, side="sell", amount=D("1.5"), price=D("102"),
                          fee=D("0.153")),)
    d = sc.send(empty_list(sc, fills))
    (closed,) = [j for j in d.journal if j.type == "PositionClosed"]
    assert closed.data["reason"] == "closed_on_exchange"
    assert (D(closed.data["realized_pnl"]), D(closed.data["fees"]), D(closed.data["net_pnl"])) \
        == (D(2), D("0.203"), D("1.797"))
    (booked,) = d.ledger
    assert (booked.amount, booked.realized_pnl, booked.fee) == (D(1), D(2), D("0.153"))
    assert sc.state.phase is Phase.FLAT
