"""A lease epoch past `EPOCH_RESERVE` (the epoch the node proved room for in every client order
id at startup: days of failed starts or hand-overs each take a new epoch) can make an
account's ids too long for the venues. The account is then refused at its start with one line
naming it, the epoch and the symbol, before anything opens or trades; not left to each symbol
actor to fail on its first order id. Real PostgreSQL, the shared paper server, a real keeper."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from runtime.cluster_node import check_node, node_settings
from runtime.node_accounts import NodeAccounts
from tests.cluster.leases_support import (
    make_keeper,
    make_store,
    node_on_the_paper_server,
    running,
    wait_acting,
)
from trading.client_ids import EPOCH_RESERVE

pytestmark = pytest.mark.slow
BTC = "BTC/USDT:USDT"
ACCOUNT = "abcdefghijk"  # the longest name whose BTC ids fit up to EPOCH_RESERVE


def test_an_epoch_past_the_reserve_refuses_the_account_in_one_line(
        pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with node_on_the_paper_server(pg_url, tmp_path, monkeypatch, ACCOUNT, BTC) as settings:
        check_node(settings, node_settings(settings))  # the node itself starts
        store = make_store(pg_url)
        with psycopg.connect(pg_url, autocommit=True) as conn:  # epochs burnt before
            conn.execute("INSERT INTO leases (account, owner, epoch, expires_at_ms, "
                         "renewed_at_ms) VALUES (%s, NULL, %s, 0, 0)", (ACCOUNT, EPOCH_RESERVE))
        keeper = make_keeper(store, "node-a", account=ACCOUNT)
        with running(keeper):
            lease = wait_acting(keeper, "node-a acquires", timeout=10)
            assert lease.epoch == EPOCH_RESERVE + 1
            start = NodeAccounts(settings, node_settings(settings), tmp_path / "data", pg_url)
            with pytest.raises(ValueError) as refused:
                account = start(ACCOUNT, lease, keeper)
                account.stop()
                account.close()
    message = str(refused.value)
    assert "\n" not in message
    assert message.startswith(f"account {ACCOUNT}: lease epoch {EPOCH_RESERVE + 1} ")
    assert BTC in message


def test_an_epoch_past_the_reserve_is_fine_while_the_ids_fit() -> None:
    from trading.client_ids import check_epoch_fits  # here: the other test fails before it

    check_epoch_fits("acct", [BTC, "1000PEPE/USDT:USDT"], 10**5)
    with pytest.raises(ValueError, match=rf"^account {ACCOUNT}: lease epoch 10000 is past"):
        check_epoch_fits(ACCOUNT, [BTC], EPOCH_RESERVE + 1)
    check_epoch_fits(ACCOUNT, [BTC], EPOCH_RESERVE)
