"""Fixtures for paper exchange tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from exchange.paper import PaperExchange
from tests.exchange.paper.paper_support import BTC, DOGE, ETH, FakeClock, Market, ScriptedPrices


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def prices() -> ScriptedPrices:
    return ScriptedPrices({BTC: Decimal("60000"), ETH: Decimal("3000"), DOGE: Decimal("0.15")})


@pytest.fixture
def market(clock: FakeClock, prices: ScriptedPrices) -> Market:
    return Market(clock, prices)


@pytest.fixture
def make_exchange(
    tmp_path: Path, clock: FakeClock, prices: ScriptedPrices
) -> Iterator[Callable[..., PaperExchange]]:
    created: list[PaperExchange] = []

    def make(**overrides: Any) -> PaperExchange:
        kwargs: dict[str, Any] = {
            "store_path": tmp_path / "paper.db",
            "symbols": [BTC, ETH, DOGE],
            "price_source": prices,
            "clock": clock,
        }
        kwargs.update(overrides)
        exchange = PaperExchange(**kwargs)
        created.append(exchange)
        return exchange

    yield make
    for exchange in created:
        exchange.close()


@pytest.fixture
def ex(make_exchange: Callable[..., PaperExchange]) -> PaperExchange:
    return make_exchange()
