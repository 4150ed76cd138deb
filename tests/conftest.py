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
