"""A NaN or Infinity in `status.json` (json.dumps writes a float NaN as `NaN`; a hand edit) is
served as valid JSON (real aiohttp server on 127.0.0.1, real SQLite repository).

Found by review: the dashboard read the file with json.loads, which takes NaN, and sent it on in
`/api/status` and the live stream; JSON has no NaN, so the page's JSON.parse refused every
status: the page stayed on its last one under a green "live" pill. The value now reaches the page
as the text "NaN", and `/metrics` leaves out only that value's sample, as it does for any value
that is no number."""

from __future__ import annotations

import json
import urllib.request
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from storage.repository import Repository
from supervision.status import write_status
from tests.dashboard.test_server import STATUS, call, serve


@pytest.fixture
def repo(tmp_path):
    r = Repository(tmp_path / "bot.sqlite", synchronous="normal")
    yield r
    r.close()


def strict(text: str) -> Any:
    """JSON as a browser parses it: NaN and Infinity are no JSON."""
    def refuse(name: str) -> Any:
        raise ValueError(f"{name} is not JSON")

    return json.loads(text, parse_constant=refuse)


def test_a_nan_in_the_status_file_is_sent_as_valid_json(tmp_path, repo):
    server = serve(tmp_path, repo, token="", host="127.0.0.1")
    try:
        status = json.loads(json.dumps(STATUS))
        status["accounts"]["main"]["pnl"]["equity"] = float("nan")
        status["pnl"]["fees"] = float("inf")
        write_status(tmp_path, status)  # the bot's own writer: NaN, Infinity
        assert "NaN" in (tmp_path / "status.json").read_text()
        code, body = call(server.url + "/api/status")
        assert code == 200
        served = strict(body)
        assert served["accounts"]["main"]["pnl"]["equity"] == "NaN"
        assert served["pnl"]["fees"] == "Infinity"
        with urllib.request.urlopen(server.url + "/api/events", timeout=5) as stream:
            assert stream.readline() == b"event: status\n"
            event = strict(stream.readline().decode()[len("data: "):])
        assert event["accounts"]["main"]["pnl"]["equity"] == "NaN"
        code, text = call(server.url + "/metrics")
    finally:
        server.stop()
    assert code == 200
    samples = {s.name for f in text_string_to_metric_families(text) for s in f.samples
               if s.labels.get("account") == "main"}
    assert "bot_equity_usdt" not in samples  # that value only is left out
    assert {"bot_realized_pnl_usdt", "bot_open_positions"} <= samples
