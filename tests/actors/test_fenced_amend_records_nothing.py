"""A replaced incarnation's stop amend that its fence refused is no failed amend to decide on.

Found by review: every exchange call of the executor lets `Fenced` through (the incarnation
was replaced: it records nothing and sends nothing more), except the stop amend, which turned
it into `StopAmendFailed`. The replaced actor then committed a failed amend that was never
sent and the core's fallback (a new stop's order intent) before its next call was refused:
rows its successor restored. The real CommandExecutor on a venue injected through its
constructor whose amend is refused by the fence, as the gateway's call scope refuses it."""

from __future__ import annotations

from decimal import Decimal as D

import pytest
from loguru import logger

from actors.command_executor import CommandExecutor
from exchange.fence import Fenced
from trading.commands import AmendStop

SYM = "BTC/USDT:USDT"


class ReplacedVenue:
    id = "replaced"

    def amend_stop(self, symbol, exchange_id, client_order_id, side, stop_price):  # noqa: ANN001, ANN201
        raise Fenced(f"{symbol}: actor incarnation 1 was replaced; its exchange call is not sent")


def test_a_fenced_amend_ends_the_replaced_incarnation_instead_of_an_event():
    executor = CommandExecutor(SYM, ReplacedVenue(), on_escalate=lambda s, e: None, log=logger)
    amend = AmendStop(client_order_id="main-t1-BTC-3s", exchange_id="x3", side="sell",
                      stop_price=D(90))
    with pytest.raises(Fenced):
        executor.execute(amend)
