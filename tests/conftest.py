from __future__ import annotations

from collections.abc import Iterator

import pykka
import pytest
from loguru import logger


@pytest.fixture(autouse=True)
def _stop_all_actors():
    yield
    pykka.ActorRegistry.stop_all(block=True, timeout=10)


@pytest.fixture
def lines() -> Iterator[list[str]]:
    """Every loguru line logged while the test runs (DEBUG and up), as its text."""
    captured: list[str] = []
    sink = logger.add(lambda m: captured.append(str(m)), level="DEBUG")
    yield captured
    logger.remove(sink)


# The longest tests (minutes of real processes and waits), started first: pytest-xdist hands
# tests out in collection order, so one of these collected last would run alone at the end of
# the suite while the other workers sit idle. Measured with `--durations` (session 15): the
# failover test alone takes ~6 min of one worker. Order within each group is unchanged.
_SLOW_FIRST = (
    "tests/cluster/test_failover_kill.py",
    "tests/e2e/test_live_streams.py",
    "tests/e2e/test_chaos_grid.py",
    "tests/e2e/test_chaos.py",
    "tests/e2e/test_workers_hung.py",
    "tests/e2e/test_workers_frozen.py",
    "tests/backtest/test_parity.py",
    "tests/cluster/test_zombie_and_partition.py",
    "tests/storage/test_postgres_account_lock.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        path = item.nodeid.split("::", 1)[0]
        return _SLOW_FIRST.index(path) if path in _SLOW_FIRST else len(_SLOW_FIRST)

    items.sort(key=rank)  # stable: the rest keep their order
