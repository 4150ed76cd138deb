"""The dashboard bound to IPv6 loopback (`dashboard.host = "::1"`, one of the loopback hosts)
names a URL that opens: `http://[::1]:<port>` in its start line and in the status dump, not
`http://::1:<port>`, which no browser or client can open (real aiohttp server on ::1)."""

from __future__ import annotations

import json
import socket

import pytest
from loguru import logger

from dashboard.auth import Auth
from dashboard.server import DashboardServer
from dashboard.source import DashboardSource
from supervision.status import write_status
from tests.dashboard.test_server import STATUS, call


def ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


@pytest.mark.skipif(not ipv6_loopback(), reason="no IPv6 loopback here")
def test_the_url_of_an_ipv6_dashboard_opens(tmp_path):
    write_status(tmp_path, json.loads(json.dumps(STATUS)))
    lines: list[str] = []
    sink = logger.add(lambda m: lines.append(str(m)), level="INFO", format="{message}")
    source = DashboardSource(data_dir=tmp_path, accounts=[], running=lambda: True)
    server = DashboardServer(source=source, auth=Auth(token="", host="::1"), logger=logger,
                             host="::1")
    try:
        server.start()
        port = server.address[1]
        assert server.url == f"http://[::1]:{port}"
        code, body = call(server.url + "/api/status")
        assert code == 200 and json.loads(body)["bot"]["pid"] == 1
    finally:
        server.stop()
        logger.remove(sink)
    assert any(f"dashboard on http://[::1]:{port} " in line for line in lines), lines
