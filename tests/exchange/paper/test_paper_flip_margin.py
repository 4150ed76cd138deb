"""An order that flips a position needs margin for the part that opens the other side (found by
a mutation audit: with the opening part taken as zero, a flip needed only its fee, and every
paper and backtest test passed)."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal as D

import pytest

from exchange import errors
from exchange.paper import PaperExchange
from tests.exchange.paper.paper_support import BTC


def test_a_flip_larger_than_the_free_balance_allows_is_refused_and_leaves_the_position(
    make_exchange: Callable[..., PaperExchange],
) -> None:
    ex = make_exchange(starting_balance=D("1000"))
    ex.create_order(BTC, "market", "buy", D("0.01"))  # long at 60006.0: 120.012 margin
    # selling 0.1 closes the 0.01 and opens a 0.09 short at 59994.0: 1079.892 margin, more than
    # the ~880 free balance (the close frees only the long's 120)
    with pytest.raises(errors.InsufficientFunds, match="needs 1083"):
        ex.create_order(BTC, "market", "sell", D("0.1"))
    [position] = ex.fetch_positions([BTC])
    assert (position.side, position.contracts, position.entry_price) == (
        "long", D("0.01"), D("60006.0"))
    # the same flip within the balance is accepted
    ex.create_order(BTC, "market", "sell", D("0.05"))
    [position] = ex.fetch_positions([BTC])
    assert (position.side, position.contracts) == ("short", D("0.04"))
