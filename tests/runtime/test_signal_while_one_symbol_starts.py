"""A signal for a symbol whose actor runs is delivered at once, whatever another symbol's start
is doing; one for a symbol still starting waits for it (bounded) and is delivered once it runs.

Found in session 49's chaos runs: the signal endpoint was only served once EVERY actor's start
had finished (or after 30 s, with a warning), so one symbol whose start reconciliation retried
against a slow or rate-limited venue (up to ~13 s) held or dropped the signals of every symbol:
a sender's request waited unanswered behind the listening socket. Now the receiver serves from
the start, and only the signals of the symbol still starting wait for it.

Real bot process (tests/runtime/held_start_bot.py): paper exchange, SQLite, pykka actors, the
HTTP endpoint; ETH's first position read (its start reconciliation) is held by an exchange
wrapper injected through AccountRuntime's constructor until the test writes a line to the
bot's stdin. Every wait is on a condition with a deadline."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

from tests.e2e.bot_process import cli, log_tails, status_now
from tests.signals.support import TOKEN, post
from tests.support.waiting import wait_until

ROOT = Path(__file__).resolve().parents[2]
BTC, ETH = "BTC/USDT:USDT", "ETH/USDT:USDT"
LISTENING = re.compile(r"signal endpoint listening on (http://127\.0\.0\.1:\d+/\S*)")

CONFIG = f"""
[bot]
data_dir = "{{data}}"
status_interval_s = 0.2
[exchange]
poll_interval_s = 0.05
[symbols]
list = ["{BTC}", "{ETH}"]
[strategy]
window = 10000
[paper]
latency_ms = 0
[supervision]
heartbeat_interval_s = 0.05
heartbeat_timeout_s = 120
[signals]
enabled = true
port = 0
[dashboard]
enabled = false
[logging]
console = false
"""


def _log(data: Path) -> str:
    path = data / "logs" / "bot.log"
    return path.read_text(errors="replace") if path.exists() else ""


def _states(data: Path) -> dict[str, str]:
    st = status_now(data)
    return {} if st is None else {a["symbol"]: a["state"] for a in st.get("actors", [])}


def test_a_running_symbol_takes_signals_while_another_still_starts(tmp_path: Path) -> None:
    data = tmp_path / "data"
    config = tmp_path / "config.toml"
    config.write_text(CONFIG.format(data=data))
    reached = tmp_path / "held"
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.runtime.held_start_bot", str(config), ETH, str(reached)],
        cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True, env={**os.environ, "BOT_SIGNAL_TOKEN": TOKEN, "PYTHONUNBUFFERED": "1"})
    assert proc.stdin is not None
    answers: dict[str, Any] = {}
    try:
        wait_until(lambda: reached.exists() or proc.poll() is not None, timeout=60,
                   message="ETH's start held on its first position read")
        assert proc.poll() is None, log_tails(data)
        wait_until(lambda: _states(data).get(BTC) == "running", timeout=60, interval=0.1,
                   message="BTC's actor running")
        found = wait_until(lambda: LISTENING.search(_log(data)) or proc.poll() is not None,
                           timeout=60, interval=0.05, message="the signal endpoint listening")
        assert proc.poll() is None, log_tails(data)
        # ETH is still held (released below): the endpoint was served without waiting for it
        assert "not running after" not in _log(data), log_tails(data)
        url = found.group(1)

        # the status says ETH is still starting, in the JSON and in the table
        assert _states(data) == {BTC: "running", ETH: "starting"}, log_tails(data)
        table = cli(config, data, "status")
        assert table.returncode == 0, table.stderr
        eth_rows = [line for line in table.stdout.splitlines() if ETH in line]
        assert eth_rows and "starting" in eth_rows[0], table.stdout

        # a running symbol's signal is delivered at once
        status, body = post(url, {"id": "btc-1", "symbol": BTC, "side": "exit"})
        assert (status, body["status"]) == (202, "accepted"), (body, log_tails(data))
        # an unknown symbol: one line naming it
        status, body = post(url, {"id": "x-1", "symbol": "XRP/USDT:USDT", "side": "exit"})
        assert status == 422 and "XRP/USDT:USDT" in body["reason"], body
        # `bot.py signal` for the running symbol is applied while ETH still starts
        queued = cli(config, data, "signal", BTC, "exit")
        assert queued.returncode == 0, queued.stderr
        wait_until(lambda: f"control signal {BTC}: delivered" in _log(data), timeout=30,
                   interval=0.05, message="the queued BTC signal delivered")

        # `bot.py resume` of the starting symbol: answered at once, one line (it is not stopped)
        resumed = cli(config, data, "resume", ETH)
        assert resumed.returncode != 0, resumed.stdout
        assert f"resume {ETH}: not stopped" in resumed.stderr, resumed.stderr
        assert len(resumed.stderr.strip().splitlines()) == 1, resumed.stderr

        # the starting symbol's signal waits for its actor, then is delivered
        def send() -> None:
            answers["eth"] = post(url, {"id": "eth-1", "symbol": ETH, "side": "exit"},
                                  timeout=60)

        sender = threading.Thread(target=send)
        sender.start()
        wait_until(lambda: f"signal eth-1 {ETH}: waiting for its actor" in _log(data),
                   timeout=30, interval=0.02, message="the ETH signal waiting for its actor")
        assert "eth" not in answers  # held until ETH runs
        proc.stdin.write("go\n")
        proc.stdin.flush()
        sender.join(60)
        assert not sender.is_alive()
        status, body = answers["eth"]
        assert (status, body["status"]) == (202, "accepted"), (body, log_tails(data))
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=90)
        assert proc.returncode == 0, out[-3000:]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    log = _log(data)
    assert "Traceback" not in log, log[-3000:]
    events = json.dumps(answers)
    assert "not running" not in events, events
