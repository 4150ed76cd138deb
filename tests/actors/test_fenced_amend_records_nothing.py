"""A replaced incarnation's stop amend (or a grid order's balance check) that its fence refused
is no failed amend (or failed order) to decide on.

Found by review: every exchange call of the executor lets `Fenced` through (the incarnation
was replaced: it records nothing and sends nothing more), except the stop amend, which turned
it into `StopAmendFailed`. The replaced actor then committed a failed amend that was never
sent and the core's fallback (a new stop's order intent) before its next call was refused:
rows its successor restored. The grid's balance check before a level order did the same
(`OrderFailed` "balance check failed: Fenced"). The real executors on a venue injected
through their constructor whose calls are refused by the fence, as the gateway's call scope
refuses them."""

from __future__ import annotations

from decimal import Decimal as D

import pytest
from loguru import logger

from actors.command_executor import CommandExecutor
from actors.grid_executor import GridExecutor
from exchange.fence import Fenced
from trading.commands import AmendStop, PlaceOrder
from trading.grid.model import GridKind, GridOrder
from trading.model import Side

SYM = "BTC/USDT:USDT"


class ReplacedVenue:
    id = "replaced"

    def amend_stop(self, symbol, exchange_id, client_order_id, side, stop_price):  # noqa: ANN001, ANN201
        raise Fenced(f"{symbol}: actor incarnation 1 was replaced; its exchange call is not sent")

    def fetch_balance(self):  # noqa: ANN201
        raise Fenced(f"{SYM}: actor incarnation 1 was replaced; its exchange call is not sent")


def test_a_fenced_amend_ends_the_replaced_incarnation_instead_of_an_event():
    executor = CommandExecutor(SYM, ReplacedVenue(), on_escalate=lambda s, e: None, log=logger)
    amend = AmendStop(client_order_id="main-t1-BTC-3s", exchange_id="x3", side="sell",
                      stop_price=D(90))
    with pytest.raises(Fenced):
        executor.execute(amend)


def test_a_fenced_balance_check_ends_the_replaced_incarnation_instead_of_a_failed_order():
    executor = GridExecutor(SYM, ReplacedVenue(), on_escalate=lambda s, e: None, log=logger)
    level = GridOrder(client_order_id="main-t1-BTC-4a", purpose=GridKind.ADD, side="buy",
                      amount=D(1), price=D(95), leg=Side.LONG)
    with pytest.raises(Fenced):
        executor.execute_grid(PlaceOrder(order=level, margin=D(20)))
