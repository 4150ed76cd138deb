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


# The longest test (~6 min of real processes and waits, mostly waiting), started first:
# pytest-xdist hands tests out in collection order, so collected last it would run alone at
# the end of the suite while the other workers sit idle. Only this one: with all the heavy
# ones first (chaos, live streams, workers: both cores loaded at once) two CI runs of session
# 15 took 14:31 and 17:58, without an established cause, so the others keep their order.
_SLOW_FIRST = ("tests/cluster/test_failover_kill.py",)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        path = item.nodeid.split("::", 1)[0]
        return _SLOW_FIRST.index(path) if path in _SLOW_FIRST else len(_SLOW_FIRST)

    items.sort(key=rank)  # stable: the rest keep their order
