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
from tests.cluster.leases_support import account_under_an_epoch, end_the_epoch

pytestmark = pytest.mark.slow
BTC = "BTC/USDT:USDT"


def test_an_account_started_under_an_epoch_is_fenced_once_its_keeper_holds_a_newer_one(
        pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with account_under_an_epoch(pg_url, tmp_path, monkeypatch, BTC) as held:
        runtime = held.account.runtime
        end_the_epoch(held)
        with pytest.raises(LeaseLost):  # a send of the old epoch's runtime
            runtime.exchange.create_order(BTC, "market", "buy", D("0.001"), None,
                                          {"clientOrderId": "stale-epoch-1"})
        with pytest.raises(LeaseLost):  # each request and retry inside the gateway
            runtime.sup.fences.account_check()
        with pytest.raises(LeaseLost):  # a commit of the old epoch's runtime
            runtime.repo.set_meta("stale-epoch", "1")
