"""The emergency close cancels the symbol's other orders but never its protective stop (README
Supervision, escalation: "cancel the symbol's other orders, keep the stop"): the close is the
last resort after everything else failed, and when its own order fails too the stop is all that
still limits the loss while the position stays open. Found by mutation audit: cancelling the
stop with the other orders (the `is_stop` skip removed) failed no test. Real paper exchange
(its fault injector refuses the close order) and real SQLite."""

from __future__ import annotations

from decimal import Decimal as D

from exchange import errors
from runtime.emergency import OWED
from storage import queries
from tests.exchange.paper.paper_support import BTC
from tests.runtime.test_emergency_temporary_errors import TAKE_PROFIT, _open, _run, _setup


def test_a_close_order_that_fails_leaves_the_stop_protecting_the_position(tmp_path):
    paper, repo, closer, _ = _setup(tmp_path)  # a long of 1 BTC at 100
    try:
        paper.create_order(BTC, "market", "sell", D(1), None,
                           {"clientOrderId": "sl1", "reduceOnly": True, "stopLossPrice": D(90)})
        side, price, params = TAKE_PROFIT
        paper.create_order(BTC, "limit", side, D(1), price, dict(params))
        paper.faults.fail_next("create_order", 1, errors.InvalidOrder("reduce-only rejected"),
                               match=lambda call: call["params"]["clientOrderId"].endswith("x"))
        _run(closer, repo)
        assert len(_open(paper)) == 1  # the close order was refused: the position is open
        [failed] = repo.read(queries.events, BTC, "EmergencyCloseFailed")
        assert "reduce-only rejected" in failed["data"]["error"]
        left = paper.fetch_open_orders(BTC)
        assert [o.client_order_id for o in left if o.is_stop] == ["sl1"]  # still protected
        assert [o for o in left if not o.is_stop] == []  # the take-profit was cancelled
        assert repo.get_meta(OWED + BTC) == ""  # a refusal is reported once, not retried
    finally:
        paper.faults.clear()
        repo.close()
        paper.close()
