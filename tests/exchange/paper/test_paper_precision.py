"""amount_to_precision / price_to_precision as the venue's ccxt class answers them: an amount
that truncates to nothing, or a price that rounds to nothing, is an InvalidOrder naming the
step (ccxt 4.5.90 raises it, and the live gateway translates it), never a 0 the caller could
send."""

from __future__ import annotations

from decimal import Decimal as D

import ccxt
import pytest

from exchange import errors
from exchange.ccxt.errors import translate
from exchange.paper import PaperExchange
from exchange.paper_server.bybit_api import BybitApi
from tests.exchange.paper.paper_support import BTC
from tests.exchange.paper_server.test_bybit_api import in_process_client


@pytest.mark.parametrize(("method", "value"), [
    ("amount_to_precision", "0.0004"), ("price_to_precision", "0.04"),
])
def test_a_value_below_the_step_is_invalid_order_as_on_the_venue(
    ex: PaperExchange, method: str, value: str,
) -> None:
    client = in_process_client(BybitApi(ex))
    client.load_markets()
    with pytest.raises(ccxt.InvalidOrder) as venue:
        getattr(client, method)(BTC, float(value))
    assert type(translate(venue.value)) is errors.InvalidOrder
    with pytest.raises(errors.InvalidOrder, match=r"BTC/USDT:USDT .* must be greater than"):
        getattr(ex, method)(BTC, D(value))


def test_values_on_or_above_the_step_are_rounded_as_before(ex: PaperExchange) -> None:
    assert ex.amount_to_precision(BTC, D("0.0015")) == D("0.001")
    assert ex.price_to_precision(BTC, D("0.05")) == D("0.1")
    assert ex.price_to_precision(BTC, D("60000.05")) == D("60000.1")

