"""`GET /api/logs` answers at most 500 lines (README: "at most 500 lines"), however many are
asked (real aiohttp server on 127.0.0.1, a real log file).

The view is open to any local client (and to a logged-in one off loopback): without the cap a
`lines=` as large as SQLite's integers made the dashboard read and answer a symbol's whole log.
Found by mutation audit: the cap left out passed every dashboard test."""

from __future__ import annotations

import json

from tests.dashboard.test_server import TOKEN, call, repo, serve  # noqa: F401 - a fixture


def test_the_log_tail_is_capped_at_500_lines(tmp_path, repo):  # noqa: F811
    server = serve(tmp_path, repo, token=TOKEN, host="127.0.0.1")
    log = tmp_path / "logs" / "x.log"  # serve()'s log file of every symbol
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text("".join(f"line {i}\n" for i in range(1200)))
    try:
        for asked in (1000, 2**62):
            code, body = call(server.url + f"/api/logs?symbol=BTC/USDT:USDT&lines={asked}")
            assert code == 200, body
            lines = json.loads(body)["lines"]
            assert len(lines) == 500, (asked, len(lines))
            assert lines[0] == "line 700" and lines[-1] == "line 1199"  # the newest 500
    finally:
        server.stop()
