"""The paper exchange the in-process Bybit API tests answer from: BTC at 60,000, a clock that
moves only when told. A file needing another (leverage, its own clock or prices) defines its own
`paper` fixture, which pytest takes over this one."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal as D
from pathlib import Path

import pytest

from exchange.paper.exchange import PaperExchange
from tests.exchange.paper.paper_support import BTC, FakeClock, ScriptedPrices


@pytest.fixture
def paper(tmp_path: Path) -> Iterator[PaperExchange]:
    exchange = PaperExchange(store_path=tmp_path / "p.sqlite", symbols=[BTC],
                             price_source=ScriptedPrices({BTC: D(60000)}), clock=FakeClock())
    yield exchange
    exchange.close()
