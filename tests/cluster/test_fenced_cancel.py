"""A cancel is a send: on a cluster node the account's port refuses it once the node may no
longer act (README, Cluster: "every send goes through `FencedExchange` (refused once the node
may not act)"), also outside any actor's call (a start's reconcile, the run loop), where the
gateway's own per-attempt fence is not in force (exchange/fence.py `check_fence` is a no-op
outside an actor).

Mutation audit X (issue 13): removing the lease guard from `FencedExchange.cancel_order`, or
from `move_stop` (which places a stop and cancels the old one), failed no test (the existing
tests try a stale epoch's create, amend and leverage only). With it, a node whose epoch had
ended cancelled an order on the venue, which after a takeover is the
new owner's (a protective stop cancelled by the old owner leaves its position unprotected).

A real account runtime started by NodeAccounts (PostgreSQL storage, the shared paper server,
the ccxt bybit gateway) under a real keeper, as tests/cluster/test_node_account_epoch.py."""

from __future__ import annotations

from decimal import Decimal as D
from pathlib import Path

import pytest

from cluster import LeaseLost
from tests.cluster.leases_support import account_under_an_epoch, end_the_epoch

pytestmark = pytest.mark.slow
BTC = "BTC/USDT:USDT"


def test_a_stale_epoch_cannot_cancel_or_move_an_order_on_the_venue(
        pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with account_under_an_epoch(pg_url, tmp_path, monkeypatch, BTC) as held:
        port = held.account.runtime.exchange
        last = port.fetch_tickers([BTC])[BTC].last
        assert last is not None
        price = port.price_to_precision(BTC, last / 2)  # rests far below the market
        resting = port.create_order(BTC, "limit", "buy", D("0.001"), price,
                                    {"clientOrderId": "resting-1"})
        assert resting.id is not None
        end_the_epoch(held)
        with pytest.raises(LeaseLost):
            port.cancel_order(resting.id, BTC)
        with pytest.raises(LeaseLost):  # a stop move places, then cancels: neither
            port.move_stop(BTC, resting, price, "moved-1")
        still = port.fetch_order(resting.id, BTC)
        assert still.status.is_open, still  # nothing reached the venue
