"""Requests aiohttp's own parser refuses (a raw byte in the URL, a broken chunk size, a header
line without a colon) are a 400 and at most one WARNING line in the bot's log, never a
traceback on stderr. Real dashboard server in a real subprocess (stdlib logging left as the bot
leaves it), raw sockets.

Found by review: each such request printed aiohttp's "Error handling request" with a 12-line
traceback to stderr (Python's last-resort logging handler), outside bot.log, as many times as
anyone who reaches the port sends one."""

from __future__ import annotations

import socket
import subprocess
import sys

from tests.e2e.bot_process import ROOT

SERVER = """
import sys, time
from pathlib import Path
from loguru import logger
from dashboard.auth import Auth
from dashboard.server import DashboardServer
from dashboard.source import DashboardSource
logger.remove()
logger.add(sys.stderr, format="{level} {message}", level="INFO")
source = DashboardSource(data_dir=Path(sys.argv[1]), accounts=[], running=lambda: True)
server = DashboardServer(source=source, auth=Auth(token="", host="127.0.0.1"), logger=logger)
server.start()
print(server.address[1], flush=True)
sys.stdin.read()
server.stop()
"""
BAD = [
    b"GET /api/journal?symbol=\xff HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n",
    b"POST /api/login HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nTransfer-Encoding: chunked\r\n"
    b"\r\nzz\r\n",
    b"GET /api/status HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nno colon here\r\n\r\n",
    # a body that does not decode as its Content-Encoding says: aiohttp raises
    # RequestPayloadError from the body read (a 500 and two ERROR tracebacks before)
    b"POST /api/login HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Encoding: gzip\r\n"
    b"Content-Type: application/json\r\nContent-Length: 7\r\nConnection: close\r\n\r\nnotgzip",
]


def status_line(port: int, request: bytes) -> str:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(request.replace(b"{port}", str(port).encode()))
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    return data.split(b"\r\n", 1)[0].decode()


def test_requests_the_parser_refuses_are_a_400_and_one_line_without_a_traceback(tmp_path):
    proc = subprocess.Popen([sys.executable, "-c", SERVER, str(tmp_path)], cwd=ROOT,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        port = int(proc.stdout.readline())
        answers = [status_line(port, request) for request in BAD for _ in range(3)]
        _, err = proc.communicate("", timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=30)
    assert all(" 400 " in a for a in answers), answers
    assert "Traceback" not in err, err
    lines = [x for x in err.splitlines() if "malformed request" in x]
    assert lines and all(x.startswith("WARNING dashboard: ") for x in lines), err
    assert len(lines) < len(answers)  # throttled: at most one line a second and a count
