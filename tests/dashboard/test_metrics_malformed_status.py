"""`/metrics` from a `status.json` whose `bot` section is readable but whose other values are
not what the status writes (a hand edit, a damaged disk): `accounts` not an object, an account
that is not an object, a start time or a P&L figure that is no number, an actor or a protection
row of the wrong shape. Each made the scrape a 500 with a traceback (TypeError, ValueError,
AttributeError, KeyError out of the collector). Now the bad values' samples are left out, each
problem is one WARNING naming where it is (not one per scrape), and every other figure is still
exported. Real aiohttp server on 127.0.0.1, real status file, real SQLite repository."""

from __future__ import annotations

import json

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


def status(**changes) -> dict:
    doc = json.loads(json.dumps(STATUS))
    for path, value in changes.items():
        *parents, key = path.split("__")
        node = doc
        for part in parents:
            node = node[part]
        node[key] = value
    return doc


def samples(text: str) -> dict[tuple[str, tuple], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for f in text_string_to_metric_families(text) for s in f.samples}


MAIN = (("account", "main"),)
ACTOR = (("account", "main"), ("symbol", "BTC/USDT:USDT"))


@pytest.mark.parametrize(("doc", "problem", "gone", "kept"), [
    (status(accounts=[1]), "accounts is not an object",
     ("bot_open_positions", MAIN), ("bot_up", ())),
    (status(bot__started_at="soon"), "bot.started_at 'soon' is not a number",
     ("bot_start_time_seconds", ()), ("bot_open_positions", MAIN)),
    (status(bot__started_at=True), "bot.started_at 'True' is not a number",
     ("bot_start_time_seconds", ()), ("bot_heartbeat_timestamp_seconds", ())),
    (status(accounts={"main": [1], "other": STATUS["accounts"]["main"]}),
     "accounts.main is not an object", ("bot_open_positions", MAIN),
     ("bot_open_positions", (("account", "other"),))),
    (status(accounts__main__health=None), "accounts.main: no 'health'",
     ("bot_stop_coverage_ratio", MAIN), ("bot_realized_pnl_usdt", MAIN)),
    (status(accounts__main__health__open_positions="x"),
     "accounts.main.health.open_positions 'x' is not a number",
     ("bot_open_positions", MAIN), ("bot_protected_positions", MAIN)),
    (status(accounts__main__kill_switch="maybe"),
     "accounts.main.kill_switch unreadable: 'maybe' is not true or false",
     ("bot_kill_switch", MAIN), ("bot_open_escalations", MAIN)),
    (status(accounts__main__pnl__equity="1e999"),
     "accounts.main.pnl.equity '1e999' is not a number",
     ("bot_equity_usdt", MAIN), ("bot_fees_usdt", MAIN)),
    (status(accounts__main__pnl=[1]), "accounts.main.pnl is not an object",
     ("bot_equity_usdt", MAIN), ("bot_kill_switch", MAIN)),
    (status(accounts__main__actors=[{"symbol": 5}, {"symbol": "BTC/USDT:USDT", "mailbox": 3}]),
     "accounts.main.actors: \"{'symbol': 5}\" is not an actor",
     (), ("bot_actor_mailbox_messages", ACTOR)),
    (status(accounts__main__protections=[{"name": 7}]),
     "accounts.main.protections: \"{'name': 7}\" is not a protection",
     (), ("bot_open_positions", MAIN)),
    (status(bot__accounts=5), "bot.accounts is not a list",
     (), ("bot_account_current", MAIN)),
])
def test_a_malformed_status_value_is_left_out_of_metrics_with_one_warning(
        tmp_path, repo, lines, doc, problem, gone, kept):
    server = serve(tmp_path, repo, token="", host="127.0.0.1")
    try:
        write_status(tmp_path, doc)
        for _ in range(3):  # scraped every few seconds: one line in the log, not one per scrape
            code, text = call(server.url + "/metrics")
            assert code == 200, text
            got = samples(text)
            assert kept in got, sorted(got)
            assert gone not in got, sorted(got)
            assert ("bot_up", ()) in got and ("bot_commit_latency_seconds_count", MAIN) in got
        said = [line for line in lines if "metrics: status" in line]
        assert len(said) == 1 and "WARNING" in said[0] and problem in said[0], said
        assert not [line for line in lines if "Traceback" in line or "ERROR" in line], lines
        write_status(tmp_path, json.loads(json.dumps(STATUS)))  # readable again: all of it
        code, text = call(server.url + "/metrics")
        assert code == 200 and samples(text)[("bot_realized_pnl_usdt", MAIN)] == 4.25
    finally:
        server.stop()


def test_an_actor_with_a_bad_figure_keeps_its_other_figures(tmp_path, repo, lines):
    server = serve(tmp_path, repo, token="", host="127.0.0.1")
    try:
        write_status(tmp_path, status(accounts__main__actors=[
            {"symbol": "BTC/USDT:USDT", "state": "running", "restarts": "many", "mailbox": 3}]))
        code, text = call(server.url + "/metrics")
        assert code == 200, text
        got = samples(text)
        assert ("bot_actor_restarts_total", ACTOR) not in got
        assert got[("bot_actor_mailbox_messages", ACTOR)] == 3
        assert got[("bot_actor_state", tuple(sorted((*ACTOR, ("state", "running")))))] == 1
        said = [line for line in lines if "metrics: status" in line]
        assert len(said) == 1 and "actors.BTC/USDT:USDT.restarts 'many' is not a number" \
            in said[0], said
    finally:
        server.stop()
