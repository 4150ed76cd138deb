"""A symbol's log file that cannot be read (permissions; here a directory in its place, as root
reads any file) made `/api/logs` a text/plain 500 with an ERROR traceback in bot.log per
request. It is a one-line JSON error naming the file (real aiohttp server on 127.0.0.1)."""

from __future__ import annotations

import json
import urllib.parse

import pytest
from loguru import logger

from storage.repository import Repository
from tests.dashboard.test_server import TOKEN, call, serve


@pytest.fixture
def repo(tmp_path):
    r = Repository(tmp_path / "bot.sqlite", synchronous="normal")
    yield r
    r.close()


def test_an_unreadable_log_file_is_a_one_line_json_error(tmp_path, repo):
    (tmp_path / "logs" / "x.log").mkdir(parents=True)  # read as the symbol's log: IsADirectory
    lines: list[str] = []
    sink = logger.add(lambda m: lines.append(str(m)), level="INFO", format="{level} {message}")
    server = serve(tmp_path, repo, token=TOKEN, host="127.0.0.1")
    try:
        symbol = urllib.parse.quote("BTC/USDT:USDT")
        code, text = call(f"{server.url}/api/logs?symbol={symbol}")
    finally:
        server.stop()
        logger.remove(sink)
    assert code == 503, text
    assert json.loads(text) == {"status": "error",
                                "reason": "log file x.log cannot be read (Is a directory)"}
    assert not any("Traceback" in line or line.startswith("ERROR") for line in lines), lines
