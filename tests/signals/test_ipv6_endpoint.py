"""The signal endpoint on IPv6 loopback (`host = "::1"`, one of the loopback hosts): it failed
to start (socket.gaierror: the server was IPv4 only), and named its URL `http://::1:<port>`,
which no client opens. It listens there and names `http://[::1]:<port>/signals`, as the
dashboard does (real HTTP on ::1)."""

from __future__ import annotations

import socket

import pytest
from loguru import logger

from signals.http_server import SignalHttpServer
from tests.signals.support import TOKEN, make_router, post


def ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


@pytest.mark.skipif(not ipv6_loopback(), reason="no IPv6 loopback here")
def test_the_signal_endpoint_listens_on_ipv6_loopback_and_names_a_url_that_opens():
    router, _, _ = make_router()
    lines: list[str] = []
    sink = logger.add(lambda m: lines.append(str(m)), level="INFO", format="{message}")
    server = SignalHttpServer(router=router, token=TOKEN, logger=logger, host="::1", port=0)
    try:
        server.start()
        port = server.address[1]
        assert server.url == f"http://[::1]:{port}/signals"
        code, body = post(server.url, {"id": "v6-1", "symbol": "BTC/USDT:USDT",
                                       "side": "long"})
        assert code == 202, body
    finally:
        server.stop()
        logger.remove(sink)
    assert any(f"listening on http://[::1]:{port}/signals" in line for line in lines), lines
