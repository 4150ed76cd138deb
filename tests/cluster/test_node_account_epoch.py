"""An account started under one lease epoch acts under that epoch only. Its keeper, once it
lost that lease, acquires the account again by itself (a new epoch) if the node thread has
not replaced it yet (it is busy stopping or starting another account); the account runtime of
the old epoch, still running, must not pass its fences with the new lease: its state is that
of before the gap, in which another node may have traded the account. A real account runtime
(PostgreSQL storage, the shared paper server, the ccxt bybit gateway) started by NodeAccounts,
and a real keeper."""

from __future__ import annotations

from decimal import Decimal as D
from pathlib import Path

import pytest

from cluster import LeaseLost
from runtime.cluster_node import node_settings
from runtime.node_accounts import NodeAccounts
from tests.cluster.leases_support import (
    make_keeper,
    make_store,
    node_on_the_paper_server,
    running,
    wait_acting,
)
from tests.support.waiting import wait_until

pytestmark = pytest.mark.slow
BTC = "BTC/USDT:USDT"


def test_an_account_started_under_an_epoch_is_fenced_once_its_keeper_holds_a_newer_one(
        pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with node_on_the_paper_server(pg_url, tmp_path, monkeypatch, "main", BTC) as settings:
        store = make_store(pg_url)
        keeper = make_keeper(store, "node-a", account="main")
        with running(keeper):
            first = wait_acting(keeper, "node-a acquires", timeout=10)
            start = NodeAccounts(settings, node_settings(settings), tmp_path / "data", pg_url)
            account = start("main", first, keeper)
            try:
                runtime = account.runtime
                # the lease ends under the keeper (here: released behind its back); it
                # acquires the account again by itself, at the next epoch
                assert store.release(first)
                wait_until(lambda: (lease := keeper.acting_lease()) is not None
                           and lease.epoch > first.epoch, timeout=15,
                           message="the keeper holding a newer epoch")
                with pytest.raises(LeaseLost):  # a send of the old epoch's runtime
                    runtime.exchange.create_order(BTC, "market", "buy", D("0.001"), None,
                                                  {"clientOrderId": "stale-epoch-1"})
                with pytest.raises(LeaseLost):  # each request and retry inside the gateway
                    runtime.sup.fences.account_check()
                with pytest.raises(LeaseLost):  # a commit of the old epoch's runtime
                    runtime.repo.set_meta("stale-epoch", "1")
            finally:
                account.stop()
                account.close()
