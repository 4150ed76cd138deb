"""The dashboard's API names the configured symbol a near-miss one stands for (real server on
127.0.0.1, real SQLite): a control or a log asked for "btc/usdt:usdt" or "BTCUSDT" is refused
with `did you mean "BTC/USDT:USDT"?`, and nothing is queued (found by review: "symbol:
'btc/usdt:usdt' is not traded by account main" left the caller guessing the form)."""

from __future__ import annotations

import json

import pytest

from storage import control
from tests.dashboard.test_server import TOKEN, call, repo, serve  # noqa: F401 - a fixture

BTC = "BTC/USDT:USDT"
HINT = f'(did you mean "{BTC}"?)'


@pytest.mark.parametrize("given", ["btc/usdt:usdt", "BTCUSDT"])
def test_a_near_miss_symbol_names_the_traded_one(tmp_path, repo, given):  # noqa: F811
    server = serve(tmp_path, repo, token=TOKEN, host="127.0.0.1")
    try:
        code, body = call(server.url + "/api/control", headers={"Authorization": f"Bearer {TOKEN}"},
                          body={"command": "resume", "symbol": given})
        reason = json.loads(body)["reason"]
        assert (code, reason) == (400, f"symbol: {given!r} is not traded by account main {HINT}")
        code, body = call(server.url + f"/api/logs?symbol={given}")
        reason = json.loads(body)["reason"]
        assert (code, reason) == (
            404, f"symbol: {given!r} is not traded by account main {HINT}")
        assert control.take_pending(repo) == []
    finally:
        server.stop()
