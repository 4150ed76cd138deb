"""The signal receiver against slow clients and leaky URLs: the HTTP endpoint caps its
connections and cuts a trickling request off at its deadline; a provider key in the WebSocket
URL (query string or userinfo) never reaches a log line or a config error."""

from __future__ import annotations

import asyncio
import socket
import threading

import pytest
from loguru import logger

from config.errors import ConfigError
from config.loader import load_settings
from signals.backoff import Backoff
from signals.http_server import SignalHttpServer
from signals.ws_client import SignalWebSocketClient
from tests.e2e.bot_process import write_config
from tests.signals.support import TOKEN, LocalWsServer, make_router, post
from tests.support.waiting import wait_until

BTC = "BTC/USDT:USDT"
KEY = "PROVIDER-KEY-9a8b7c"
PASSWORD = "userinfo-pass-5d4e"


def closed_by_peer(s: socket.socket) -> bool:
    s.setblocking(False)
    try:
        while s.recv(65536):
            pass
        return True
    except BlockingIOError:
        return False
    except OSError:
        return True


def test_slow_clients_are_capped_and_cut_off_at_the_request_deadline(lines):
    router, _, deliver = make_router()
    server = SignalHttpServer(router=router, token=TOKEN, logger=logger, port=0,
                              max_connections=3, max_connections_per_ip=4,
                              evict_idle_after_s=30.0, request_timeout_s=1.0)
    server.start()
    port = server.address[1]
    heads = [b"POST /signals HTTP/1.1\r\nHost: x\r\n"] * 2 + [
        b"POST /signals HTTP/1.1\r\nAuthorization: Bearer " + TOKEN.encode()
        + b"\r\nContent-Length: 400\r\n\r\n{"]
    slow = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in heads]
    stop = threading.Event()

    def trickle() -> None:  # a byte every 0.2 s: well inside any per-read timeout
        while not stop.wait(0.2):
            for s in slow:
                try:
                    s.send(b"X")
                except OSError:
                    pass

    for s, head in zip(slow, heads, strict=True):
        s.sendall(head)
    sender = threading.Thread(target=trickle, daemon=True)
    sender.start()
    try:
        extra = socket.create_connection(("127.0.0.1", port), timeout=5)
        assert extra.recv(4096).startswith(b"HTTP/1.0 503 "), "over the cap: a JSON 503 at once"
        extra.close()
        # every slow client is dropped at the 1 s request deadline (without it a client that
        # keeps trickling is never cut, so the wait's generous bound tells the two apart
        # without timing the server on a busy machine, as tests/dashboard's sibling does)
        wait_until(lambda: all(closed_by_peer(s) for s in slow), timeout=30,
                   message="slow clients cut off")
        assert post(server.url, {"id": "after", "symbol": BTC, "side": "long"})[0] == 202
    finally:
        stop.set()
        sender.join(5)
        for s in slow:
            s.close()
        assert server.stop(timeout_s=5)
    assert len(deliver.calls) == 1  # the trickled body never became a signal
    assert len([line for line in lines if "refused: too many connections (limit 3)" in line]) == 1


def test_a_provider_key_in_the_websocket_url_never_reaches_the_log(lines):
    feed = LocalWsServer(token="feed-token").start()  # refuses us: the handshake error is logged
    url = feed.url.replace("ws://", f"ws://bob:{PASSWORD}@") + f"?apikey={KEY}&x=1"
    slept = threading.Event()

    async def sleep(delay: float) -> None:
        slept.set()
        await asyncio.sleep(3600)

    router, _, _ = make_router()
    client = SignalWebSocketClient(url=url, handle=router.handle_raw, logger=logger,
                                   sleep=sleep,
                                   backoff=Backoff(initial_s=1, max_s=1, jitter=0))
    client.start()
    try:
        wait_until(slept.is_set, timeout=10, message="the failed handshake logged")
    finally:
        assert client.stop(timeout_s=5)
        feed.stop()
    failed = [line for line in lines if "signal websocket" in line and "reconnecting" in line]
    assert failed and feed.url in failed[0] and "401" in failed[0]
    for secret in (KEY, PASSWORD, "apikey="):
        assert not any(secret in line for line in lines), secret


@pytest.mark.parametrize("section, key, value", [
    ("supervision", "alert_webhook", f"ftp://hooks.example/alert?key={KEY}"),
    ("signals", "websocket_url", f"https://feed.example/ws?apikey={KEY}"),
])
def test_a_malformed_url_setting_is_named_not_echoed(tmp_path, section, key, value):
    config = write_config(tmp_path / "c.toml", [BTC], **{section: {key: value}})
    with pytest.raises(ConfigError) as refused:
        load_settings(config, data_dir_override=tmp_path / "data")
    text = str(refused.value)
    assert f"{section}.{key}: must" in text
    assert KEY not in text and "hooks.example" not in text and "feed.example" not in text
