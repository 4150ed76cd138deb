"""The dashboard server in-process (real aiohttp on 127.0.0.1, a real SQLite repository and a
status file): who may read, who may act, live updates, metrics text."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.error
import urllib.request
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import pytest
from loguru import logger
from prometheus_client.parser import text_string_to_metric_families

from dashboard.auth import SESSION_TTL_S, Auth
from dashboard.server import DashboardServer
from dashboard.source import AccountHandle, DashboardSource
from dashboard.throttle import LoginThrottle
from observability.metrics import BotMetrics
from storage import control
from storage.repository import Repository
from supervision.status import write_status
from tests.e2e.bot_process import ROOT, write_config

TOKEN = "in-process-token-123"
STATUS = {"bot": {"pid": 1, "running": True, "mode": "paper", "version": "v", "heartbeat_at": 5.0},
          "actors": [{"symbol": "BTC/USDT:USDT", "state": "running", "restarts": 2, "mailbox": 3,
                      "close_failures": 0}],
          "health": {"open_positions": 1, "protected_positions": 1, "ts_coverage": 1.0},
          "escalations": [], "kill_switch": False,
          "pnl": {"realized_today": "-1.5", "realized_total": "4.25", "fees": "0.75",
                  "equity": "10004.25", "drawdown": "1.5", "wins": 3, "losses": 1,
                  "win_rate": 0.75},
          "protections": [{"name": "daily_loss_limit", "symbol": None, "reason": "x",
                           "tripped_since": 4.0, "until": None}]}
STATUS["accounts"] = {"main": {k: STATUS[k] for k in ("actors", "health", "escalations",
                                                       "kill_switch", "pnl", "protections")}}


@pytest.fixture
def repo(tmp_path):
    r = Repository(tmp_path / "bot.sqlite", synchronous="normal")
    yield r
    r.close()


def serve(tmp_path: Path, repo: Repository, *, token: str, host: str,
          takes_close: bool = True, logins: LoginThrottle | None = None,
          clock: Any = None) -> DashboardServer:
    """``clock``: the sessions' clock (Auth's; default the wall clock)."""
    write_status(tmp_path, json.loads(json.dumps(STATUS)))
    source = DashboardSource(data_dir=tmp_path, running=lambda: True, accounts=[AccountHandle(
        name="main", symbols=("BTC/USDT:USDT",), repo=repo, capital=D(10000),
        log_path=lambda s: tmp_path / "logs" / "x.log", takes_close=takes_close)])
    metrics = BotMetrics(snapshot=source.status)
    metrics.observe_commit(0.002)
    metrics.observe_commit(0.2)
    metrics.observe_tick_to_order(0.004)
    auth = Auth(token=token, host=host) if clock is None else Auth(token=token, host=host,
                                                                   clock=clock)
    server = DashboardServer(source=source, auth=auth, logger=logger,
                             metrics=metrics.render, push_interval_s=0.1, logins=logins)
    server.start()
    return server


def call(url: str, *, body: dict | None = None, headers: dict | None = None) -> tuple[int, str]:
    req = urllib.request.Request(url, data=None if body is None else json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def session_cookie(url: str) -> str:
    """Log in with TOKEN: the session cookie (name=value) the server set."""
    req = urllib.request.Request(url + "/api/login", method="POST",
                                 data=json.dumps({"token": TOKEN}).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=5) as resp:
        return str(resp.headers["Set-Cookie"].split(";", 1)[0])


def test_bound_off_loopback_every_data_view_needs_the_token(tmp_path, repo):
    # bound to 127.0.0.1 here (tests never listen elsewhere); the host it is told it serves
    # decides the policy, exactly as dashboard.host does
    server = serve(tmp_path, repo, token=TOKEN, host="192.0.2.10")
    try:
        for path in ("/api/status", "/api/journal", "/api/trades", "/metrics", "/api/events"):
            assert call(server.url + path)[0] == 401, path
            assert call(server.url + path, headers={"Authorization": "Bearer nope"})[0] == 401
        code, _ = call(server.url + "/api/status", headers={"Authorization": f"Bearer {TOKEN}"})
        assert code == 200
        code, page = call(server.url + "/")  # the page itself holds no data, only the login
        assert code == 200 and "login-form" in page
        assert json.loads(call(server.url + "/api/session")[1])["login_required"] is True
    finally:
        server.stop()


def test_without_a_token_reads_are_open_on_loopback_and_controls_refused(tmp_path, repo):
    server = serve(tmp_path, repo, token="", host="127.0.0.1")
    try:
        code, body = call(server.url + "/api/status")
        assert code == 200 and json.loads(body)["pnl"]["realized_total"] == "4.25"
        code, body = call(server.url + "/api/control", body={"command": "pause"},
                          headers={"Authorization": "Bearer "})
        assert code == 403 and "no dashboard token" in body
        assert control.take_pending(repo) == []  # nothing was queued
    finally:
        server.stop()


def test_live_updates_and_metrics(tmp_path, repo):
    server = serve(tmp_path, repo, token=TOKEN, host="127.0.0.1")
    try:
        with urllib.request.urlopen(server.url + "/api/events", timeout=5) as stream:
            assert stream.headers["Content-Type"].startswith("text/event-stream")
            events = []
            for _ in range(2):  # two pushes: the page updates without a reload
                assert stream.readline() == b"event: status\n"
                events.append(json.loads(stream.readline().decode()[len("data: "):]))
                assert stream.readline() == b"\n"
            assert events[0]["pnl"]["equity"] == "10004.25"
            write_status(tmp_path, {**STATUS, "kill_switch": True})
            for _ in range(10):
                stream.readline()
                data = json.loads(stream.readline().decode()[len("data: "):])
                stream.readline()
                if data["kill_switch"]:
                    break
            assert data["kill_switch"] is True
        _, text = call(server.url + "/metrics")
        families = {f.name: f for f in text_string_to_metric_families(text)}
        samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
                   for f in families.values() for s in f.samples}
        assert samples[("bot_commit_latency_seconds_count", (("account", "main"),))] == 2
        assert samples[("bot_commit_latency_seconds_bucket",
                        (("account", "main"), ("le", "0.0025")))] == 1
        assert samples[("bot_tick_to_order_latency_seconds_count", (("account", "main"),))] == 1
        assert samples[("bot_actor_restarts_total",
                        (("account", "main"), ("symbol", "BTC/USDT:USDT")))] == 2
        assert samples[("bot_realized_pnl_usdt", (("account", "main"),))] == 4.25
        assert samples[("bot_win_rate_ratio", (("account", "main"),))] == 0.75
        assert samples[("bot_protection_tripped",
                        (("account", "main"), ("protection", "daily_loss_limit"),
                         ("symbol", "")))] == 1
    finally:
        server.stop()


def test_off_loopback_without_a_token_is_a_one_line_startup_error(tmp_path):
    config = write_config(tmp_path / "c.toml", ["BTC/USDT:USDT"], logging={"console": False},
                          dashboard={"enabled": True, "host": "0.0.0.0", "port": 0,
                                     "token_env": "NO_SUCH_TOKEN_VAR"})
    r = subprocess.run([sys.executable, str(ROOT / "bot.py"), "run", "--config", str(config),
                        "--data-dir", str(tmp_path / "data"), "--duration", "5"], cwd=ROOT,
                       capture_output=True, text=True, timeout=60,
                       env={"PATH": "/usr/bin:/bin"}, check=False)
    assert r.returncode == 2, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "dashboard.host" in lines[0] and "token" in lines[0]


def test_a_taken_port_costs_the_dashboard_not_the_trading(tmp_path):
    import socket

    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    port = holder.getsockname()[1]
    try:
        config = write_config(tmp_path / "c.toml", ["BTC/USDT:USDT"], logging={"console": False},
                              bot={"status_interval_s": 0.2},
                              dashboard={"enabled": True, "port": port})
        data = tmp_path / "data"
        r = subprocess.run([sys.executable, str(ROOT / "bot.py"), "run", "--config", str(config),
                            "--data-dir", str(data), "--duration", "3"], cwd=ROOT,
                           capture_output=True, text=True, timeout=90, check=False)
    finally:
        holder.close()
    assert r.returncode == 0, r.stderr[-2000:]
    log = (data / "logs" / "bot.log").read_text()
    assert f"dashboard.port: cannot listen on 127.0.0.1:{port}" in log
    status = json.loads((data / "status.json").read_text())
    assert "dashboard" not in status["bot"] and status["actors"][0]["state"] == "stopped"


def test_several_accounts_each_control_lands_in_its_own_account(tmp_path):
    repos = {n: Repository(tmp_path / n / "bot.sqlite", synchronous="normal")
             for n in ("alpha", "beta")}
    try:
        write_status(tmp_path, json.loads(json.dumps(STATUS)))
        source = DashboardSource(data_dir=tmp_path, running=lambda: True, accounts=[
            AccountHandle(name=n, symbols=("ETH/USDT:USDT",), repo=r, capital=D(100),
                          log_path=lambda s: tmp_path / "x.log") for n, r in repos.items()])
        server = DashboardServer(source=source, auth=Auth(token=TOKEN, host="127.0.0.1"),
                                 logger=logger)
        server.start()
        try:
            code, body = call(server.url + "/api/trades")
            assert code == 404 and "choose from: alpha, beta" in body
            assert call(server.url + "/api/trades?account=beta")[0] == 200
            bearer = {"Authorization": f"Bearer {TOKEN}"}
            code, body = call(server.url + "/api/control", headers=bearer,
                              body={"account": "beta", "command": "close",
                                    "symbol": "ETH/USDT:USDT"})
            assert code == 202, body
            code, body = call(server.url + "/api/control", headers=bearer,
                              body={"account": "beta", "command": "close", "symbol": "<b>X</b>"})
            assert code == 400 and "not traded by account beta" in body
        finally:
            server.stop()
        assert control.take_pending(repos["alpha"]) == []
        [(_, command, symbol, args)] = control.take_pending(repos["beta"])
        assert (command, symbol, args["side"]) == ("signal", "ETH/USDT:USDT", "exit")
        assert args["by"] == "dashboard bearer token from 127.0.0.1" and args["requested_at"] > 0
    finally:
        for r in repos.values():
            r.close()


def test_no_websocket_way_in(tmp_path, repo):
    """Controls are POSTs only: a WebSocket handshake (which browsers send cross-origin with
    cookies) is refused on every path, so it cannot carry a control."""
    import asyncio

    import aiohttp

    server = serve(tmp_path, repo, token=TOKEN, host="127.0.0.1")

    async def attempt(path: str) -> int:
        async with aiohttp.ClientSession() as session:
            try:
                async with session.ws_connect(server.url + path,
                                              headers={"Origin": "http://evil.example"}):
                    return 101
            except aiohttp.WSServerHandshakeError as exc:
                return exc.status

    try:
        for path in ("/api/control", "/api/events", "/", "/ws"):
            assert asyncio.run(attempt(path)) != 101, path
        assert control.take_pending(repo) == []
    finally:
        server.stop()


@pytest.mark.parametrize("telegram, env, expected", [
    ({"enabled": True, "chat_ids": [1]}, {},
     "telegram.token_env: environment variable BOT_TELEGRAM_TOKEN must hold the bot token"),
    ({"enabled": True}, {"BOT_TELEGRAM_TOKEN": "1:x"}, "telegram.chat_ids: list at least one"),
])
def test_telegram_misconfigured_is_a_one_line_startup_error(tmp_path, telegram, env, expected):
    config = write_config(tmp_path / "c.toml", ["BTC/USDT:USDT"], logging={"console": False},
                          dashboard={"enabled": False}, telegram=telegram)
    r = subprocess.run([sys.executable, str(ROOT / "bot.py"), "run", "--config", str(config),
                        "--data-dir", str(tmp_path / "data"), "--duration", "5"], cwd=ROOT,
                       capture_output=True, text=True, timeout=60, check=False,
                       env={"PATH": "/usr/bin:/bin", **env})
    assert r.returncode == 2, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("bot.py: error: ") and expected in lines[0]


def test_an_account_whose_database_does_not_exist_yet_answers_503_then_serves(tmp_path):
    """The workers' parent opens each account's database on first use (dashboard/parent.py):
    before its worker has created it, reads and controls answer 503 naming the account."""
    from config.loader import load_settings
    from dashboard.parent import LazyRepository

    settings = load_settings(write_config(tmp_path / "c.toml", ["BTC/USDT:USDT"]),
                             data_dir_override=tmp_path / "data")
    lazy = LazyRepository(settings, "main")
    server = serve(tmp_path, lazy, token=TOKEN, host="127.0.0.1")  # type: ignore[arg-type]
    try:
        code, body = call(server.url + "/api/journal")
        assert code == 503 and "account main: its database does not exist yet" in body
        code, body = call(server.url + "/api/control", body={"command": "pause"},
                          headers={"Authorization": f"Bearer {TOKEN}"})
        assert code == 503, body
        Repository(lazy.path, synchronous="normal").close()  # the worker created it
        assert call(server.url + "/api/journal")[0] == 200
        code, body = call(server.url + "/api/control", body={"command": "pause"},
                          headers={"Authorization": f"Bearer {TOKEN}"})
        assert code == 202, body
        reader = Repository(lazy.path, synchronous="normal")
        try:
            assert [c for _, c, _, _ in control.take_pending(reader)] == ["pause"]
        finally:
            reader.close()
    finally:
        server.stop()
        lazy.close()


def test_a_control_without_its_symbol_names_the_missing_field(tmp_path, repo):
    """`close`, `resume` and `reset_protection stoploss_guard` need a symbol; sent without one
    the answer says so (it said "symbol: 'None' is not traded by account main")."""
    server = serve(tmp_path, repo, token=TOKEN, host="127.0.0.1")
    try:
        bearer = {"Authorization": f"Bearer {TOKEN}"}
        for body in ({"command": "close"}, {"command": "resume", "symbol": ""},
                     {"command": "reset_protection", "name": "stoploss_guard"}):
            code, text = call(server.url + "/api/control", headers=bearer, body=body)
            assert code == 400, text
            reason = json.loads(text)["reason"]
            assert reason.startswith("symbol: missing") and "None" not in reason, reason
    finally:
        server.stop()
    assert control.take_pending(repo) == []


def test_close_on_a_hedge_grid_account_is_refused_not_queued(tmp_path, repo):
    """A hedge-grid actor skips external signals (it trades its own levels): `close` answered
    202 queued and nothing closed (the journal said SignalSkipped). It is refused up front."""
    server = serve(tmp_path, repo, token=TOKEN, host="127.0.0.1", takes_close=False)
    try:
        code, text = call(server.url + "/api/control", headers={"Authorization": f"Bearer {TOKEN}"},
                          body={"command": "close", "symbol": "BTC/USDT:USDT"})
        assert code == 400, text
        assert json.loads(text)["reason"].startswith("command: close is not taken by account "
                                                     "main's hedge grid"), text
    finally:
        server.stop()
    assert control.take_pending(repo) == []


def test_a_stoploss_guard_reset_for_a_symbol_not_traded_is_refused_not_queued(tmp_path, repo):
    """The stop-loss guard pauses one symbol, so its reset names one: a symbol the account does
    not trade (a typo, another account's) is a 400 naming it, never a 202 for a reset that
    resets nothing while the paused symbol stays paused."""
    server = serve(tmp_path, repo, token=TOKEN, host="127.0.0.1")
    try:
        bearer = {"Authorization": f"Bearer {TOKEN}"}
        for symbol in ("ETH/USDT:USDT", "btc/usdt:usdt"):
            code, text = call(server.url + "/api/control", headers=bearer,
                              body={"command": "reset_protection", "name": "stoploss_guard",
                                    "symbol": symbol})
            assert code == 400, text
            assert json.loads(text)["reason"].startswith(
                f"symbol: {symbol!r} is not traded by account main"), text
        code, text = call(server.url + "/api/control", headers=bearer,
                          body={"command": "reset_protection", "name": "stoploss_guard",
                                "symbol": "BTC/USDT:USDT"})
        assert code == 202, text
    finally:
        server.stop()
    [(_, command, symbol, args)] = control.take_pending(repo)
    assert (command, symbol, args["name"]) == ("reset_protection", "BTC/USDT:USDT",
                                               "stoploss_guard")


def test_a_reset_of_a_protection_that_does_not_exist_is_refused_where_the_account_lists_none(
        tmp_path, repo):
    """An account handle that does not list its protections (None: not known) still refuses a
    name that is no protection at all ("daily_loss", a typo): a 400 naming the choices, not a
    202 that the run loop journals as 'unknown protection' while the trip stays."""
    server = serve(tmp_path, repo, token=TOKEN, host="127.0.0.1")
    try:
        code, text = call(server.url + "/api/control",
                          headers={"Authorization": f"Bearer {TOKEN}"},
                          body={"command": "reset_protection", "name": "daily_loss"})
        assert code == 400, text
        assert json.loads(text)["reason"] == (
            "name: unknown protection 'daily_loss' (choose from: daily_loss_limit, "
            "max_drawdown, stoploss_guard)"), text
    finally:
        server.stop()
    assert control.take_pending(repo) == []


def test_a_login_session_ends_after_its_time_on_the_server_too(tmp_path, repo):
    """A session is good for SESSION_TTL_S (12 h): the cookie's max-age ends it in the browser,
    and the server refuses it after that too, so a session id copied from a browser or a proxy
    log does not act for ever (the kill switch, a close)."""
    now = [1000.0]
    server = serve(tmp_path, repo, token=TOKEN, host="127.0.0.1", clock=lambda: now[0])
    try:
        cookie = session_cookie(server.url)
        session = {"Cookie": cookie, "Origin": server.url}
        now[0] += SESSION_TTL_S - 1
        code, text = call(server.url + "/api/control", body={"command": "pause"},
                          headers=session)
        assert code == 202, text
        now[0] += 2
        code, text = call(server.url + "/api/control", body={"command": "unpause"},
                          headers=session)
        assert code == 401, text
        code, text = call(server.url + "/api/session", headers=session)
        assert json.loads(text)["authenticated"] is False, text
    finally:
        server.stop()
    assert [c for _, c, _, _ in control.take_pending(repo)] == ["pause"]
