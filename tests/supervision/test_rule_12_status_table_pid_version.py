"""Rule 12: the status dump shows which code runs and where: the running version, the PID, the
start time and the last heartbeat. The JSON has them (tests/e2e/test_bot_process.py); this is
the table `bot.py status` prints, rendered from a real supervisor's status."""

from __future__ import annotations

import os
from datetime import UTC, datetime

from supervision.status import build_status, combine_status, render_table
from tests.support.harness import Harness

BTC = "BTC/USDT:USDT"


def test_the_status_table_header_names_pid_version_start_and_heartbeat(tmp_path):
    h = Harness(tmp_path, [BTC]).start()
    try:
        pid, version = os.getpid(), "3f9c2e1-dirty"
        started, now = 1_800_000_000.0, 1_800_000_123.0
        bot = {"pid": pid, "running": True, "mode": "paper", "version": version,
               "started_at": started, "account": "main"}
        per_account = {"main": build_status(h.sup, bot, now, [])}
        table = render_table(combine_status(bot, per_account, now, grouped=False))
    finally:
        h.stop()
    header = table.splitlines()[0]
    assert header.startswith("bot: running"), table
    assert f"pid {pid} " in header + " ", header
    assert f"version {version} " in header + " ", header
    for label, at in (("started", started), ("heartbeat", now)):
        stamp = datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        assert f"{label} {stamp}" in header, header
    assert BTC in table
