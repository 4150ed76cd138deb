"""An answer ccxt cannot parse whole, whose rows it can each parse (ccxt failed on something
else of it, or on a row our row-by-row read never reaches): the failure is not a row's, so
no row can be skipped for it, and the answer is unreadable, as ccxt said. The open-order reader
returned the rows as "the account's open orders" (an empty answer: "no open orders"), and the
position reader did the same since it became answer_rows.py. Real ccxt.bybit's parsers; the
request ccxt makes is replaced (the instance's `fetch_open_orders` / `fetch_positions`) by
one that keeps an answer and fails as ccxt would."""

from __future__ import annotations

from typing import Any

import ccxt
import pytest

from exchange.ccxt import lookup, open_order_rows
from exchange.ccxt.answer_rows import Keep


class FailingBybit(ccxt.bybit):
    """ccxt's bybit whose list reads fail whole (ValueError) after keeping `answer`."""

    def __init__(self, answer: Any) -> None:
        super().__init__()
        self.answer = answer

    def _fail(self) -> None:
        self.last_json_response = self.answer
        raise ValueError("invalid literal for int() with base 10: 'abc'")

    def fetch_open_orders(self, *args: Any, **kwargs: Any) -> Any:  # noqa: ARG002
        self._fail()

    def fetch_positions(self, *args: Any, **kwargs: Any) -> Any:  # noqa: ARG002
        self._fail()


ANSWERS = [{"retCode": 0, "result": {"list": [], "nextPageCursor": ""}, "time": "abc"}]


@pytest.mark.parametrize("answer", ANSWERS)
def test_an_open_order_answer_failed_by_no_row_stays_unreadable(answer) -> None:  # noqa: ANN001
    ex = FailingBybit(answer)
    with pytest.raises(ValueError, match="'abc'"):
        open_order_rows.read(ex, None, None, {}, Keep(["BTC/USDT:USDT"], set()))


@pytest.mark.parametrize("answer", ANSWERS)
def test_a_position_answer_failed_by_no_row_stays_unreadable(answer) -> None:  # noqa: ANN001
    ex = FailingBybit(answer)
    with pytest.raises(ValueError, match="'abc'"):
        lookup.read_positions(ex, None, {}, Keep(["BTC/USDT:USDT"], set()))


def test_a_row_naming_no_symbol_fails_the_read_naming_the_row() -> None:
    """A row without its symbol cannot be told from ours, so it fails the read, as one of a
    symbol the account trades does, and says which row: before, only the whole answer's
    bare error ('ValueError: ...'), naming neither the row nor what was missing."""
    row = {"orderId": "7", "orderLinkId": "x-7", "price": "NaN", "qty": "1",
           "orderStatus": "New"}
    ex = FailingBybit({"retCode": 0, "result": {"list": [row], "nextPageCursor": ""}})
    with pytest.raises(ccxt.BadResponse) as raised:
        open_order_rows.read(ex, None, None, {}, Keep(["BTC/USDT:USDT"], set()))
    message = str(raised.value)
    assert "order row naming no symbol (row 1 of 1, orderLinkId x-7" in message, message
