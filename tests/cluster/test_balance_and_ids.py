"""Pure parts of node mode: the balancing share and hand-over choice, and the lease epoch in
client order ids (unique across epochs, old ids still parse)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cluster.balance import NodeSeen, live_nodes, target, to_hand_over
from trading.client_ids import (
    EPOCH_RESERVE,
    check_fits,
    client_order_id,
    epoch_tag,
    parse_client_order_id,
)
from trading.orders import OrderPurpose


def _targets(accounts: int, holds: dict[str, int]) -> dict[str, int]:
    """Each node's target as it computes it, every node seeing the same rows."""
    rows = [NodeSeen(node=n, age_ms=0, holds=h) for n, h in holds.items()]
    return {me: target(accounts, rows, me, holds[me], 2000) for me in holds}


def test_targets_split_the_accounts_evenly_extra_ones_to_the_nodes_holding_most() -> None:
    assert _targets(6, {"a": 2, "b": 2, "c": 2}) == {"a": 2, "b": 2, "c": 2}
    assert _targets(6, {"a": 3, "b": 3}) == {"a": 3, "b": 3}
    # 4 on 3: 2, 1, 1 (a ceiling of 2 each left a returning node with none: 2, 2, 0)
    assert _targets(4, {"a": 2, "b": 2, "c": 0}) == {"a": 2, "b": 1, "c": 1}
    assert _targets(4, {"a": 0, "b": 2, "c": 2}) == {"a": 1, "b": 2, "c": 1}
    assert _targets(7, {"a": 1, "b": 3, "c": 3}) == {"a": 2, "b": 3, "c": 2}
    assert target(6, [], "me", 0, 2000) == 6  # no node seen yet: this node alone


def test_a_stale_or_unready_node_gets_no_share() -> None:
    rows = [NodeSeen(node="a", age_ms=100, holds=1), NodeSeen(node="b", age_ms=5000, holds=2),
            NodeSeen(node="c", age_ms=0, holds=0, ready=False)]
    assert target(4, rows, "me", 1, 2000) == 2  # a and me live: 2 each


@given(st.integers(min_value=1, max_value=40),
       st.lists(st.integers(min_value=0, max_value=40), min_size=1, max_size=8))
def test_targets_add_up_to_the_accounts_and_differ_by_one_at_most(
        accounts: int, held: list[int]) -> None:
    targets = _targets(accounts, {f"n{i}": h for i, h in enumerate(held)})
    assert sum(targets.values()) == accounts
    assert max(targets.values()) - min(targets.values()) <= 1


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
