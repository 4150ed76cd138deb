"""With several accounts in one process, the ccxt gateway's log lines (its retries, lookups,
fee and markets reads) carry the account they are of, as the account's own lines do
(loguru `extra["account"]`, which sends them to logs/<account>/): they named no account, so
two accounts' retries of one venue read the same. A gateway without an account tags nothing
(the single-account layout). Real gateways, real ccxt bybit, the emulator, a real loguru sink."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from loguru import logger

from exchange import errors
from exchange.ccxt.factory import gateway_from_settings
from tests.exchange.ccxt.ccxt_fixtures import (
    API_KEY,
    API_SECRET,
    factory_for,
    make_gateway,
    start_emulator,
)

BTC = "BTC/USDT:USDT"
BUSY = {"retCode": 10016, "retMsg": "System error", "result": {}, "retExtInfo": {}, "time": 0}


@pytest.fixture
def lines():
    records: list = []
    sink = logger.add(lambda m: records.append(m.record), level="WARNING")
    yield records
    logger.remove(sink)


def _retried_read(gw, emu) -> None:
    emu.fail_next("/v5/position/list", 1, body=BUSY)
    gw.fetch_positions([BTC])


def test_each_accounts_gateway_tags_its_lines_with_its_account(tmp_path, lines):
    emu = start_emulator("bybit")
    alpha = make_gateway("bybit", emu, tmp_path, account="alpha")
    beta = make_gateway("bybit", emu, tmp_path, account="beta")
    single = make_gateway("bybit", emu, tmp_path)
    try:
        for gw in (alpha, beta, single):
            gw.load_markets()
            lines.clear()
            _retried_read(gw, emu)
            (line,) = [r for r in lines if "fetch_positions failed" in r["message"]]
            assert line["extra"].get("account") == gw.account
        assert (alpha.account, beta.account, single.account) == ("alpha", "beta", None)
        emu.fail_next("/v5/position/list", 10, body=BUSY)
        with pytest.raises(errors.TemporaryError):  # errors still leave as the port's
            beta.fetch_positions([BTC])
    finally:
        for gw in (alpha, beta, single):
            gw.close()
        emu.stop()


def test_the_account_is_read_from_the_settings_fields(tmp_path):
    emu = start_emulator("bybit")
    fields = SimpleNamespace(
        exchange="bybit", api_key_env="K", api_secret_env="S", secrets_file=None,
        sandbox=False, demo=False, hedge_mode=False, stop_mode="exchange",
        markets_cache=str(tmp_path / "m.json"), rate_limit_per_s=1000.0, timeout_ms=1500,
        account="alpha")
    try:
        gw = gateway_from_settings(fields, environ={"K": API_KEY, "S": API_SECRET},
                                   exchange_factory=factory_for("bybit", emu))
        assert gw.account == "alpha"
        gw.close()
    finally:
        emu.stop()
