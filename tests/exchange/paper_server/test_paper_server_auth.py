"""Bybit's signing rules on the paper server, checked with a signature computed here (not by
the server's own code), and its generated keys file."""

from __future__ import annotations

import hashlib
import hmac
import json
import stat
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.exchange.paper_server.server_support import API_KEY, API_SECRET, ServerProcess


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    proc = ServerProcess(store=tmp_path / "shared_paper.sqlite").start()
    yield proc
    assert proc.stop() == 0


def signed_get(server: ServerProcess, path: str, query: str, *, timestamp_ms: int,
               secret: str = API_SECRET, recv_window: str = "5000") -> dict[str, Any]:
    text = f"{timestamp_ms}{API_KEY}{recv_window}{query}"
    signature = hmac.new(secret.encode(), text.encode(), hashlib.sha256).hexdigest()
    request = urllib.request.Request(f"{server.base_url}{path}?{query}", headers={
        "X-BAPI-API-KEY": API_KEY, "X-BAPI-TIMESTAMP": str(timestamp_ms),
        "X-BAPI-RECV-WINDOW": recv_window, "X-BAPI-SIGN": signature})
    try:
        with urllib.request.urlopen(request, timeout=5) as reply:
            return dict(json.loads(reply.read()))
    except urllib.error.HTTPError as exc:
        return dict(json.loads(exc.read()))


def test_signature_and_recv_window_rules(server: ServerProcess) -> None:
    now = int(time.time() * 1000)
    query = "category=linear&symbol=BTCUSDT"
    ok = signed_get(server, "/v5/position/list", query, timestamp_ms=now)
    assert ok["retCode"] == 0 and ok["result"]["list"][0]["symbol"] == "BTCUSDT"
    stale = signed_get(server, "/v5/position/list", query, timestamp_ms=now - 6000)
    assert stale["retCode"] == 10002
    wider = signed_get(server, "/v5/position/list", query, timestamp_ms=now - 6000,
                       recv_window="20000")
    assert wider["retCode"] == 0
    future = signed_get(server, "/v5/position/list", query, timestamp_ms=now + 5000)
    assert future["retCode"] == 10002
    forged = signed_get(server, "/v5/position/list", query, timestamp_ms=now, secret="guess")
    assert forged["retCode"] == 10004


def test_generated_keys_file_is_private_and_the_secret_never_printed(tmp_path: Path) -> None:
    proc = ServerProcess(store=tmp_path / "p.sqlite", env_keys=False).start()
    assert proc.stop() == 0
    keys_file = tmp_path / "paper_server_keys.json"
    assert stat.S_IMODE(keys_file.stat().st_mode) == 0o600
    keys = json.loads(keys_file.read_text())
    assert len(keys["api_secret"]) >= 32
    assert proc.output and keys["api_secret"] not in proc.output
    assert "keys written to" in proc.output
