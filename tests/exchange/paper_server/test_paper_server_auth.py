"""Bybit's signing rules on the paper server, checked with a signature computed here (not by
the server's own code), and its generated keys file."""

from __future__ import annotations

import hashlib
import hmac
import http.client
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
    made = [f for f in tmp_path.iterdir() if f != proc.log_path]  # (the log is the test's own)
    assert {f.name for f in made} >= {"p.sqlite", "paper_server_keys.json"}
    assert all(stat.S_IMODE(f.stat().st_mode) & 0o077 == 0 for f in made), [
        (f.name, oct(f.stat().st_mode)) for f in made]  # the store too (was 0644)


def signed_post(server: ServerProcess, path: str, body: dict[str, Any]) -> dict[str, Any]:
    text = json.dumps(body)
    now = int(time.time() * 1000)
    signature = hmac.new(API_SECRET.encode(), f"{now}{API_KEY}5000{text}".encode(),
                         hashlib.sha256).hexdigest()
    request = urllib.request.Request(f"{server.base_url}{path}", data=text.encode(), headers={
        "X-BAPI-API-KEY": API_KEY, "X-BAPI-TIMESTAMP": str(now), "X-BAPI-RECV-WINDOW": "5000",
        "X-BAPI-SIGN": signature, "Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(request, timeout=5) as reply:
        return dict(json.loads(reply.read()))


def test_signature_covers_the_query_exactly_as_sent_percent_encoding_included(
    server: ServerProcess,
) -> None:
    query = "category=linear&symbol=BTCUSDT&orderLinkId=n1%3Ae%2F1"  # n1:e/1, encoded
    reply = signed_get(server, "/v5/order/realtime", query, timestamp_ms=int(time.time() * 1000))
    assert reply["retCode"] == 0 and reply["result"]["list"] == []


def test_a_malformed_field_is_refused_and_the_server_keeps_serving(server: ServerProcess) -> None:
    bad = signed_post(server, "/v5/order/create", {
        "category": "linear", "symbol": "BTCUSDT", "side": "Buy", "orderType": "Market",
        "qty": "0.01", "positionIdx": "left", "orderLinkId": "bad-1"})
    assert bad["retCode"] == 10001
    assert bad["retMsg"].startswith("paper server: bad parameter in /v5/order/create")
    good = signed_post(server, "/v5/order/create", {
        "category": "linear", "symbol": "BTCUSDT", "side": "Buy", "orderType": "Market",
        "qty": "0.01", "orderLinkId": "good-1"})
    assert good["retCode"] == 0 and good["result"]["orderLinkId"] == "good-1"


def test_a_post_acts_on_its_signed_body_only_never_on_an_unsigned_query(
    server: ServerProcess,
) -> None:
    """A POST is signed over its body: parameters added in its query string are covered by no
    signature (anyone on the path could add them to a signed order) and Bybit reads the body.
    They were merged into the order: `?orderLinkId=` or `?triggerPrice=` changed it unsigned."""
    body = {"category": "linear", "symbol": "BTCUSDT", "side": "Buy", "orderType": "Market",
            "qty": "0.01", "orderLinkId": "body-1"}
    text = json.dumps(body)
    now = int(time.time() * 1000)
    signature = hmac.new(API_SECRET.encode(), f"{now}{API_KEY}5000{text}".encode(),
                         hashlib.sha256).hexdigest()
    request = urllib.request.Request(
        f"{server.base_url}/v5/order/create?triggerPrice=1&triggerDirection=2&reduceOnly=true",
        data=text.encode(), method="POST", headers={
            "X-BAPI-API-KEY": API_KEY, "X-BAPI-TIMESTAMP": str(now),
            "X-BAPI-RECV-WINDOW": "5000", "X-BAPI-SIGN": signature,
            "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=5) as reply:
        created = dict(json.loads(reply.read()))
    assert created["retCode"] == 0, created
    found = signed_get(server, "/v5/order/history",
                       "category=linear&symbol=BTCUSDT&orderLinkId=body-1",
                       timestamp_ms=int(time.time() * 1000))
    [order] = found["result"]["list"]
    assert (order["orderStatus"], order["triggerPrice"], order["reduceOnly"]) == (
        "Filled", "0", False)


def test_a_body_that_is_not_utf8_is_a_bybit_refusal_not_a_traceback(
    server: ServerProcess,
) -> None:
    """Any client could send one (no key needed): it was a 500 page from aiohttp and a
    traceback in the server's log."""
    request = urllib.request.Request(f"{server.base_url}/v5/order/create", data=b"\xff\xfe{",
                                     method="POST", headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=5) as reply:
            status, answer = reply.status, dict(json.loads(reply.read()))
    except urllib.error.HTTPError as exc:
        status, answer = exc.code, dict(json.loads(exc.read()))
    assert status == 400 and answer["retCode"] == 10001
    assert answer["retMsg"].startswith("body is not UTF-8")
    assert json.loads(urllib.request.urlopen(f"{server.base_url}/v5/market/time",
                                             timeout=5).read())["retCode"] == 0
    assert "Traceback" not in server.output


@pytest.mark.parametrize(("body", "reason"), [
    (b"[" * 60_000, "nested too deeply"),  # (under the 64 KiB body limit)
    (b'{"qty": ' + b"1" * 5000 + b"}", "Exceeds the limit"),
])
def test_a_body_json_cannot_decode_is_a_bybit_refusal_not_a_traceback(
    server: ServerProcess, body: bytes, reason: str,
) -> None:
    """JSON nested too deeply (RecursionError) or an integer of more digits than Python
    converts (a ValueError that is no JSONDecodeError): a 500 page and a traceback before."""
    request = urllib.request.Request(f"{server.base_url}/v5/market/time", data=body,
                                     method="POST", headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=5) as reply:
            status, answer = reply.status, dict(json.loads(reply.read()))
    except urllib.error.HTTPError as exc:
        status, answer = exc.code, dict(json.loads(exc.read()))
    assert status == 400 and answer["retCode"] == 10001
    assert answer["retMsg"].startswith("body is not JSON") and reason in answer["retMsg"]
    assert "Traceback" not in server.output


@pytest.mark.parametrize(("signature", "stamp", "code"), [
    (b"\xc3\xa9" * 32, b"", 10004), (b"\xff" + b"0" * 63, b"", 10004),
    (b"0" * 64, b"\xc2\xb2", 10002),  # '2' superscript: isdigit() but not int()
])
def test_a_header_that_is_not_ascii_is_a_bybit_refusal_not_a_traceback(
    server: ServerProcess, signature: bytes, stamp: bytes, code: int,
) -> None:
    """hmac.compare_digest raises TypeError on a str with non-ASCII characters, int() a
    ValueError on digits str.isdigit() accepts: a signature or timestamp header of such bytes
    (anyone can send one) was a 500 page and a traceback in the server's log instead of
    Bybit's 10004 / 10002."""
    now = int(time.time() * 1000)
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    try:
        conn.putrequest("GET", "/v5/position/list?category=linear")
        for name, value in (("X-BAPI-API-KEY", API_KEY.encode()),
                            ("X-BAPI-TIMESTAMP", str(now).encode() + stamp),
                            ("X-BAPI-RECV-WINDOW", b"5000"), ("X-BAPI-SIGN", signature)):
            conn.putheader(name, value)
        conn.endheaders()
        reply = conn.getresponse()
        status, answer = reply.status, json.loads(reply.read())
    finally:
        conn.close()
    assert (status, answer["retCode"]) == (401, code)
    assert "Traceback" not in server.output
