"""`set_leverage` on the paper side: the paper exchange records it (its margin stays
`risk.leverage`), and the paper server answers Bybit's POST /v5/position/set-leverage as the
venue does, so a bot trading on it in live mode (a cluster rehearsal) sets it before an entry
instead of having every entry refused for a missing route."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal as D
from pathlib import Path

import pytest

from exchange import errors
from exchange.paper.exchange import PaperExchange
from exchange.paper_server.bybit_api import BybitApi
from tests.exchange.paper.paper_support import BTC, FakeClock, ScriptedPrices
from tests.exchange.paper_server.test_bybit_api import ccxt_error

PATH = "/v5/position/set-leverage"


@pytest.fixture
def paper(tmp_path: Path) -> Iterator[PaperExchange]:
    exchange = PaperExchange(store_path=tmp_path / "p.sqlite", symbols=[BTC], leverage=5,
                             price_source=ScriptedPrices({BTC: D(60000)}), clock=FakeClock())
    yield exchange
    exchange.close()


def test_paper_records_it_and_refuses_an_unknown_symbol(paper: PaperExchange) -> None:
    paper.set_leverage(3, BTC)
    assert paper.leverages == {BTC: 3}
    assert paper.leverage == 5  # the margin it counts stays the config's
    with pytest.raises(errors.BadSymbol):
        paper.set_leverage(3, "FOO/USDT:USDT")


def leverage_body(value: str) -> dict[str, str]:
    return {"category": "linear", "symbol": "BTCUSDT", "buyLeverage": value,
            "sellLeverage": value}


def test_paper_server_sets_it_like_bybit(paper: PaperExchange) -> None:
    api = BybitApi(paper)
    status, body = api.route("POST", PATH, leverage_body("3"))
    assert status == 200 and isinstance(body, dict) and body["retCode"] == 0
    assert paper.leverages == {BTC: 3}
    _, body = api.route("POST", PATH, leverage_body("3"))  # unchanged: Bybit's 110043
    assert isinstance(body, dict) and body["retCode"] == 110043
    _, body = api.route("POST", PATH, leverage_body("101"))  # above maxLeverage: 10001
    assert isinstance(body, dict) and body["retCode"] == 10001
    assert "leverage invalid" in body["retMsg"]
    assert type(ccxt_error(200, body)).__name__ == "BadRequest"
    assert paper.leverages == {BTC: 3}
