"""The takeover grace a lease row records is its CURRENT holder's, not its first one's.

Each row records its holder's takeover grace (its exchange request timeout) so that a taker
with a shorter one waits the holder's out (storage/leases.py `_GRACE_COLUMN`). The row is
inserted by the account's first holder and only updated afterwards; mutation audit X (issue
13): an acquisition that kept the row's grace instead of writing its own failed no test, since
the existing test's holder is always the row's first. Then a node with a long exchange timeout
that acquired the account after a short-timeout node had held it left the short grace in the
row, and once it died a short-timeout taker took the account while the dead node's last
request could still reach the exchange (two nodes acting on one account). Real SQLite and
PostgreSQL; the clock is the database's."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from tests.cluster.leases_support import FAST, make_store
from tests.support.waiting import wait_until


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield str(tmp_path / "cluster.sqlite")
    else:
        yield request.getfixturevalue("pg_url")


def test_the_row_keeps_the_grace_of_the_node_holding_it_now(url: str) -> None:
    short = make_store(url)  # FAST: a 0.5 s grace
    long = make_store(url, replace(FAST, request_timeout_s=30.0))
    first = short.acquire("alpha", "node-short")  # inserts the row with its 0.5 s
    assert first is not None and short.release(first)
    lease = long.acquire("alpha", "node-long")  # a hand-over: the row now says 30 s
    assert lease is not None and lease.epoch == 2
    # node-long dies here (no renewal); a short-timeout taker waits past expiry + its own grace
    taker = make_store(url)
    wait_until(lambda: taker.db_now_ms() > lease.expires_at_ms + FAST.takeover_grace_ms + 100,
               timeout=10, message="expiry + the taker's own grace (database clock)")
    assert taker.acquire("alpha", "node-taker") is None  # node-long's 30 s are not over
    due, row = taker.takeover_view("alpha")
    assert row is not None and row[0] == "node-long" and row[3] == 30_000
    assert 25 < due <= 30
