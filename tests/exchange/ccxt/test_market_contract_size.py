"""A market whose contract is not one unit of the base is refused at start, read through the
real ccxt class from the venue's own market row: amounts, positions and P&L are in base units
throughout (runtime/wiring.check_symbols), so a contract of 10 ETH read as 1 ETH would size
every order, stop and P&L tenfold wrong. ccxt 4.5.90's binance takes `contractSize` from the
exchangeInfo row (its coin-margined rows carry one); found by the conversion audit: with
convert.market's contract size made 1 whatever the market said, no test failed (the refusal
was tested only with a fake port's market)."""

from __future__ import annotations

import copy
from decimal import Decimal
from typing import Any

import pytest

from runtime.startup_error import StartupConfigError
from runtime.wiring import check_symbols
from tests.exchange.ccxt.ccxt_fixtures import gateway_on_emulator
from tests.exchange.ccxt.emu_binance import EXCHANGE_INFO, BinanceVenue

ETH = "ETH/USDT:USDT"


class TenEthContracts(BinanceVenue):
    """Answers ETHUSDT with a contract of 10 ETH."""

    def get_fapi_v1_exchangeInfo(self, p: dict[str, Any]) -> tuple[int, Any]:  # noqa: N802
        info = copy.deepcopy(EXCHANGE_INFO)
        for row in info["symbols"]:
            if row["symbol"] == "ETHUSDT":
                row["contractSize"] = "10"
        return 200, info


def test_a_market_of_ten_base_units_a_contract_is_refused_at_start(tmp_path):
    with gateway_on_emulator("binanceusdm", tmp_path, venue=TenEthContracts) as (gw, _):
        assert gw.market(ETH).contract_size == Decimal(10)
        assert gw.market("BTC/USDT:USDT").contract_size == Decimal(1)
        check_symbols(gw, ["BTC/USDT:USDT"])  # the others start
        refused = r"'ETH/USDT:USDT' on binanceusdm has contract size 10\b"
        with pytest.raises(StartupConfigError, match=refused):
            check_symbols(gw, ["BTC/USDT:USDT", ETH])
