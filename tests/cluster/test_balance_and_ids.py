"""Pure parts of node mode: the balancing share and hand-over choice, and the lease epoch in
client order ids (unique across epochs, old ids still parse)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cluster.balance import NodeSeen, live_nodes, share, to_hand_over
from trading.client_ids import (
    EPOCH_RESERVE,
    check_fits,
    client_order_id,
    epoch_tag,
    parse_client_order_id,
)
from trading.orders import OrderPurpose


def test_share_is_the_ceiling_over_live_nodes() -> None:
    assert share(6, 3) == 2
    assert share(6, 2) == 3
    assert share(7, 3) == 3
    assert share(6, 0) == 6  # no node seen yet: this node alone


def test_live_nodes_counts_fresh_heartbeats_and_always_this_node() -> None:
    seen = [NodeSeen(node="a", age_ms=100), NodeSeen(node="b", age_ms=5000),
            NodeSeen(node="c", age_ms=1999)]
    assert live_nodes(seen, "me", stale_after_ms=2000) == 3  # a, c and me; b is stale
    assert live_nodes(seen, "a", stale_after_ms=2000) == 2


def test_hand_over_one_account_per_step_above_the_cap() -> None:
    assert to_hand_over(["acct0", "acct1", "acct2"], cap=2) == ["acct2"]
    assert to_hand_over(["acct0", "acct1", "acct2", "acct3"], cap=2) == ["acct3"]
    assert to_hand_over(["acct0", "acct1"], cap=2) == []


PURPOSES = st.sampled_from(list(OrderPurpose))
SYMBOLS = st.sampled_from(["BTC/USDT:USDT", "1000PEPE/USDT:USDT", "ETH/USDC:USDC",
                           "e12/USDT:USDT", "ETH/USDT:USDT"])


@given(epoch=st.integers(0, EPOCH_RESERVE), seq=st.integers(0, 10**6), symbol=SYMBOLS,
       purpose=PURPOSES)
def test_ids_carry_the_epoch_and_read_back(epoch: int, seq: int, symbol: str,
                                           purpose: OrderPurpose) -> None:
    cid = client_order_id("acct", epoch_tag("ab12", epoch), symbol, seq, purpose)
    parsed = parse_client_order_id(cid, "acct-ab12-")
    assert parsed is not None
    assert (parsed.epoch, parsed.symbol, parsed.seq, parsed.letter) == (
        epoch, symbol, seq, purpose.letter)


@given(a=st.integers(0, 50), b=st.integers(0, 50), seq=st.integers(0, 50), symbol=SYMBOLS)
def test_two_epochs_never_share_an_id(a: int, b: int, seq: int, symbol: str) -> None:
    ids = {client_order_id("acct", epoch_tag("ab12", e), symbol, seq, OrderPurpose.ENTRY)
           for e in (a, b)}
    assert len(ids) == (1 if a == b else 2)


def test_ids_without_an_epoch_still_parse_as_epoch_zero() -> None:
    old = "acct-ab12-BTC-17s"  # what a single bot and older versions sent
    parsed = parse_client_order_id(old, "acct-ab12-")
    assert parsed is not None and parsed.epoch == 0 and parsed.seq == 17
    assert parsed.symbol == "BTC/USDT:USDT" and parsed.letter == "s"
    assert epoch_tag("ab12", 0) == "ab12"  # epoch 0 writes the old layout
    assert parse_client_order_id("other-ab12-BTC-1e", "acct-ab12-") is None
    assert parse_client_order_id("acct-ab12-x9-BTC-1e", "acct-ab12-") is None


def test_a_long_account_name_is_refused_when_the_epoch_cannot_fit() -> None:
    check_fits("acct", epoch_tag("ab12", EPOCH_RESERVE), "BTC/USDT:USDT")
    with pytest.raises(ValueError, match="use a shorter account name"):
        check_fits("abcdefghijkl", epoch_tag("ab12", EPOCH_RESERVE), "1000PEPE/USDT:USDT")
    with pytest.raises(ValueError):
        epoch_tag("ab12", -1)
