"""The JSON API's numeric query parameters mean what they say (real server on 127.0.0.1, real
SQLite ledger): `lines=0` / `limit=0` answer nothing, a curve of `points=0` is a 400 naming the
parameter, and a negative, non-numeric or huge value is a one-line 400, never a traceback.

Found by review: `/api/logs?lines=0` answered the default 100 lines (`0 or 100`), and
`/api/trades?limit=0`, `/api/journal?limit=0` one row each, `/api/equity?points=0` one point."""

from __future__ import annotations

import json

import pytest
from loguru import logger

from dashboard.auth import Auth
from dashboard.server import DashboardServer
from dashboard.source import AccountHandle, DashboardSource
from supervision.status import write_status
from tests.dashboard.test_server import STATUS, TOKEN, call
from tests.protections.ledger_rig import BASE, BTC, ETH, T0, Ledger


@pytest.fixture
def ledger(tmp_path):
    ledger = Ledger(tmp_path)
    yield ledger
    ledger.close()


@pytest.fixture
def server(tmp_path, ledger):
    ledger.closed("p1", BTC, "take_profit", T0, pnl="3", fee="0.05")
    ledger.closed("p2", ETH, "stop_loss", T0 + 10, pnl="-1", fee="0.05")
    log = tmp_path / "btc.log"
    log.write_text("".join(f"line {i}\n" for i in range(150)))
    write_status(tmp_path, json.loads(json.dumps(STATUS)))
    source = DashboardSource(data_dir=tmp_path, running=lambda: True, accounts=[AccountHandle(
        name="main", symbols=(BTC, ETH), repo=ledger.repo, capital=BASE,
        log_path=lambda s: log)])
    server = DashboardServer(source=source, auth=Auth(token=TOKEN, host="127.0.0.1"),
                             logger=logger)
    server.start()
    yield server
    server.stop()


def get(server: DashboardServer, path: str) -> tuple[int, dict]:
    code, body = call(server.url + path)
    return code, json.loads(body)


def test_zero_lines_answer_none(server):
    assert get(server, f"/api/logs?symbol={BTC}&lines=0") == (
        200, {"account": "main", "symbol": BTC, "lines": []})
    code, body = get(server, f"/api/logs?symbol={BTC}&lines=3")
    assert (code, body["lines"]) == (200, ["line 147", "line 148", "line 149"])


def test_zero_rows_answer_none(server):
    code, body = get(server, "/api/trades?limit=0")
    assert (code, body["trades"]) == (200, [])
    assert len(get(server, "/api/trades?limit=2")[1]["trades"]) == 2
    code, body = get(server, "/api/journal?limit=0")
    assert (code, body["events"], body["next_before_id"]) == (200, [], None)


def test_an_equity_curve_of_no_points_is_a_400_naming_the_parameter(server):
    code, body = get(server, "/api/equity?points=0")
    assert code == 400, body
    assert body["reason"].startswith("points: expected an integer 1.."), body
    assert len(get(server, "/api/equity?points=1")[1]["points"]) == 1


@pytest.mark.parametrize("query", [
    f"/api/logs?symbol={BTC}&lines=-1", f"/api/logs?symbol={BTC}&lines=ten",
    f"/api/logs?symbol={BTC}&lines=1e3", f"/api/logs?symbol={BTC}&lines={2**64}",
    "/api/trades?limit=-5", "/api/trades?offset=x", "/api/trades?limit=1.5",
    "/api/journal?before_id=-1", "/api/journal?limit=" + "9" * 30,
    "/api/equity?points=-1", "/api/equity?points=many"])
def test_a_bad_number_is_a_one_line_400_naming_the_parameter(server, query):
    code, body = get(server, query)
    key = query.rsplit("&", 1)[-1].split("?")[-1].split("=")[0]
    assert code == 400, body
    assert body["reason"].startswith(f"{key}: expected an integer "), body
    assert "\n" not in body["reason"]


def test_the_readmes_query_templates_with_empty_values_answer_as_the_bare_paths(server):
    """README's API table writes `?account=&symbol=&limit=50&offset=0`: an empty value is a value
    left out, as for the numbers (found by review: `account=` was a 404 "unknown ''", and
    `symbol=` matched no trade)."""
    code, body = get(server, "/api/trades?account=&symbol=&limit=50&offset=0")
    assert (code, len(body.get("trades", []))) == (200, 2), body
    code, body = get(server, "/api/journal?account=&symbol=&limit=50&before_id=")
    assert (code, body.get("account")) == (200, "main"), body
    code, body = get(server, "/api/equity?account=&points=500")
    assert (code, len(body.get("points", []))) == (200, 2), body
    code, body = get(server, f"/api/logs?account=&symbol={BTC}&lines=2")
    assert (code, body.get("lines")) == (200, ["line 148", "line 149"]), body


def test_a_page_larger_than_the_cap_answers_the_cap(server, ledger):
    """README: trades and journal pages hold at most 500 rows, whatever `limit` asks (a page of
    `limit=100000` read and sent a whole journal, in one request anyone on loopback may send);
    the next page goes on where the capped one stopped, and the page after the last is empty."""
    ledger.journal([(BTC, T0 + i) for i in range(620)])
    for i in range(520):
        ledger.closed(f"q{i}", BTC, "take_profit", T0 + 100 + i, pnl="1", fee="0")
    code, body = get(server, "/api/trades?limit=100000")
    assert (code, len(body["trades"])) == (200, 500), (code, len(body.get("trades", [])))
    code, body = get(server, f"/api/journal?symbol={BTC}&limit=100000")
    assert (code, len(body["events"])) == (200, 500), (code, len(body.get("events", [])))
    code, rest = get(server, f"/api/journal?symbol={BTC}&limit=100000"
                             f"&before_id={body['next_before_id']}")
    assert (code, len(rest["events"])) == (200, 120), (code, len(rest.get("events", [])))
    assert rest["events"][0]["id"] == body["events"][-1]["id"] - 1  # none skipped, none twice
    code, after = get(server, f"/api/journal?symbol={BTC}&before_id={rest['next_before_id']}")
    assert (code, after["events"], after["next_before_id"]) == (200, [], None)
