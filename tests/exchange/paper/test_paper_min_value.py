"""A refusal below the minimum order value states the order's value as it is: rounded to
cents for show, 4.9999 USDT read "order value 5.00 USDT is below the minimum 5 USDT", a line
that contradicts itself in the submissions log, the bot's journal and the paper server's
retMsg."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from exchange import errors
from exchange.paper import PaperExchange
from tests.exchange.paper.paper_support import BTC


def test_a_value_just_below_the_minimum_is_named_exactly(ex: PaperExchange) -> None:
    with pytest.raises(errors.InvalidOrder) as refused:
        ex.create_order(BTC, "limit", "buy", D("0.001"), D("4999.9"), {"clientOrderId": "tiny"})
    assert str(refused.value) == (
        "paper: BTC/USDT:USDT order value 4.9999 USDT is below the minimum 5 USDT")
    [attempt] = ex.submissions("tiny")
    assert attempt["error"] == f"InvalidOrder: {refused.value}"


def test_a_client_order_id_with_a_trailing_line_break_is_refused(ex: PaperExchange) -> None:
    # the venues' rule is the whole id in [.A-Z:/a-z0-9_-]{1,36}; a `$`-anchored match let
    # "tiny\n" through (Python's `$` also matches before a final newline)
    with pytest.raises(errors.InvalidOrder, match="clientOrderId 'tiny\\\\n' must match"):
        ex.create_order(BTC, "limit", "buy", D("0.01"), D("5000"), {"clientOrderId": "tiny\n"})
    ex.create_order(BTC, "limit", "buy", D("0.01"), D("5000"), {"clientOrderId": "tiny"})


def test_an_order_worth_exactly_the_minimum_is_accepted(ex: PaperExchange) -> None:
    # the minimum is inclusive, as on the venues: 0.001 x 5000 = 5 USDT rests (found by a
    # mutation audit: refusing an order worth exactly 5 USDT passed every paper test)
    order = ex.create_order(BTC, "limit", "buy", D("0.001"), D("5000"), {"clientOrderId": "min"})
    assert (order.status, order.amount * order.price) == ("open", D("5.000"))
    assert [o.id for o in ex.fetch_open_orders(BTC)] == [order.id]
