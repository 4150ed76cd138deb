"""`python bot.py run --workers 2` serves one dashboard from the parent (dashboard/parent.py):
real processes, real HTTP. It shows every account of both workers, reads each account's
database, and a pause sent through it is applied by the worker running that account."""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.bot_process import cli, start_bot, wait_status
from tests.e2e.test_workers import ACCOUNTS, PLAN, all_running, write_accounts_config

pytestmark = pytest.mark.slow
TOKEN = "workers-dash-7c1e9b2a"


def request(url: str, method: str = "GET", body: Any = None,
            token: str | None = None) -> tuple[int, Any]:
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            text = r.read().decode()
            return r.status, (json.loads(text) if "json" in r.headers["Content-Type"] else text)
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read().decode() or "null")


def test_the_parent_serves_one_dashboard_for_every_workers_accounts(tmp_path):
    config = write_accounts_config(tmp_path / "bot.toml")
    text = config.read_text().replace("[dashboard]\nenabled = false\n",
                                      "[dashboard]\nenabled = true\nport = 0\n")
    config.write_text(text)
    data = tmp_path / "data"
    proc = start_bot(config, data, "--workers", "2", "--duration", "300",
                     env={**os.environ, "BOT_DASHBOARD_TOKEN": TOKEN})
    try:
        s = wait_status(config, data, lambda s: all_running(s) and s["bot"].get("dashboard"),
                        timeout=90, message="both workers running, dashboard up")
        url = s["bot"]["dashboard"]
        code, api = request(f"{url}/api/status")
        assert code == 200 and sorted(api["accounts"]) == sorted(ACCOUNTS)
        assert {n: e["worker"] for n, e in api["accounts"].items()} == {
            n: i for i, names in PLAN.items() for n in names}
        for name, symbols in ACCOUNTS.items():  # a position each, through its worker
            sent = cli(config, data, "signal", symbols[0], "long", "--account", name)
            assert sent.returncode == 0, sent.stderr
        wait_status(config, data, lambda s: s["health"]["open_positions"] == len(ACCOUNTS)
                    and s["health"]["protected_positions"] == len(ACCOUNTS),
                    message="one protected position per account")
        for name in ACCOUNTS:  # each account's own database, read from the parent
            code, journal = request(f"{url}/api/journal?account={name}&limit=5")
            assert code == 200 and journal["account"] == name and journal["events"], journal
            code, equity = request(f"{url}/api/equity?account={name}")
            assert code == 200 and equity["capital"] == "10000"
        metrics = {f.name for f in text_string_to_metric_families(request(f"{url}/metrics")[1])}
        assert {"bot_up", "bot_open_positions", "bot_actor_restarts"} <= metrics

        code, refused = request(f"{url}/api/control", "POST",
                                {"account": "beta", "command": "pause"})
        assert code == 401, refused  # controls need the token
        code, queued = request(f"{url}/api/control", "POST",
                               {"account": "beta", "command": "pause"}, token=TOKEN)
        assert code == 202 and queued["status"] == "queued", queued
        s = wait_status(config, data, lambda s: s["accounts"]["beta"].get("entries_paused"),
                        message="worker 2 applied the pause")
        assert not s["accounts"]["alpha"].get("entries_paused")
        proc.terminate()
        _, err = proc.communicate(timeout=90)
        assert proc.returncode == 0, err[-2000:]
        log = (data / "logs" / "bot.log").read_text()
        assert not [line for line in log.splitlines()
                    if "not served with worker processes" in line and "dashboard" in line]
        assert TOKEN not in log
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=30)
