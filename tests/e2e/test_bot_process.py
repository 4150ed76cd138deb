"""The bot as users run it: `python bot.py` in a subprocess, status while running and after,
single-instance lock, graceful SIGTERM."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import time

import pytest

from tests.e2e.bot_process import ROOT, cli, start_bot, status, wait_status, write_config
from tests.support.waiting import wait_until

SYMBOLS = ["BTC/USDT:USDT", "ETH/USDT:USDT", "SOL/USDT:USDT", "XRP/USDT:USDT"]
pytestmark = pytest.mark.slow


@pytest.fixture
def config(tmp_path):
    return write_config(
        tmp_path / "config.toml", SYMBOLS,
        bot={"status_interval_s": 0.2, "switch_interval_ms": 0.5},
        exchange={"poll_interval_s": 0.1},
        strategy={"window": 10, "entry_z": 1.0, "exit_z": 0.2, "min_volatility_pct": 0},
        # no cooldown after a loss: with the default 120 s (wall clock), four symbols that each
        # lost once had no position for the rest of a 12 s run, and a wait for one failed (CI)
        risk={"cooldown_after_loss_s": 0},
        paper={"latency_ms": 1, "step_ms": 100, "speed": 600.0},
        logging={"console": False},
    )


def checkout_version() -> str:
    """The checkout's commit as git itself reports it, and with uncommitted changes to tracked
    files `-dirty.` and the first 8 hex digits of the SHA-256 of `git diff HEAD`."""
    head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                          capture_output=True, text=True, check=True).stdout.strip()
    diff = subprocess.run(["git", "-C", str(ROOT), "diff", "HEAD", "--binary", "--no-ext-diff",
                           "--no-color"], capture_output=True, check=True).stdout
    return f"{head}-dirty.{hashlib.sha256(diff).hexdigest()[:8]}" if diff else head


def test_run_status_lock_and_stop(config, tmp_path):
    data = tmp_path / "data"
    launched = time.time()
    # no --duration: stopped by SIGTERM once everything below was seen (a fixed 20 s run could
    # end before a position opened when the bot stalled on a loaded machine; `--duration`
    # ending a run is checked by the two tests after this one)
    proc = start_bot(config, data)
    second = None
    try:
        # a second instance on the same data dir is refused and names the PID
        wait_status(config, data, lambda s: s["bot"]["pid"] == proc.pid, message="first status")
        second = start_bot(config, data)
        s = wait_status(config, data, lambda s: s["bot"]["running"] and all(
            a["state"] == "running" for a in s["actors"]), message="all actors running")
        assert {a["symbol"] for a in s["actors"]} == set(SYMBOLS)
        # incident 12: which code runs, since when, alive when
        assert s["bot"]["pid"] == proc.pid and s["bot"]["version"] == checkout_version()
        assert launched <= s["bot"]["started_at"] <= time.time()
        later = wait_status(config, data, lambda t: t["bot"]["heartbeat_at"]
                            > s["bot"]["heartbeat_at"], message="a newer heartbeat")
        assert later["bot"]["started_at"] == s["bot"]["started_at"]
        assert s["bot"]["switch_interval_ms"] == 0.5  # the configured interval is in force
        out, err = second.communicate(timeout=60)
        assert second.returncode == 3
        assert str(proc.pid) in err and err.strip().count("\n") == 0
        s = wait_status(config, data, lambda s: s["health"]["open_positions"] > 0, message="a position")
        samples = [s] + [status(config, data) for _ in range(5)]
        for sample in samples:  # every open position has its exchange stop, every time we look
            assert sample["health"]["ts_coverage"] == 1.0, sample["health"]
        opened = [a for a in s["actors"] if a["position"]]
        assert all(a["stop_price"] and a["trailing"] for a in opened)
        assert proc.poll() is None  # still running: the stop below is the test's SIGTERM
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    finally:
        for started in (proc, second):
            if started is not None and started.poll() is None:
                started.kill()
    assert proc.returncode == 0, err[-2000:]
    s = status(config, data)
    assert s["bot"]["running"] is False and s["bot"]["heartbeat_at"] > 0
    logs = data / "logs"
    for sym in SYMBOLS:
        path = logs / (sym.replace("/", "_").replace(":", "_") + ".log")
        assert path.exists() and "stopped" in path.read_text().splitlines()[-1]
    bot_log = (logs / "bot.log").read_text()
    assert "bot stopped" in bot_log.splitlines()[-1]
    # the started bot froze its objects out of the collector (runtime/interpreter.py)
    assert "objects frozen out of the collector's walks (started;" in bot_log
    r = cli(config, data, "logs", "BTC/USDT:USDT", "-n", "3")
    assert r.returncode == 0 and len(r.stdout.splitlines()) == 3


def test_sigterm_stops_gracefully_and_releases_the_lock(config, tmp_path):
    data = tmp_path / "data"
    proc = start_bot(config, data)
    try:
        wait_status(config, data, lambda s: s["health"]["open_positions"] > 0, message="activity")
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err[-2000:]
    log = (data / "logs" / "bot.log").read_text()
    assert "received SIGTERM" in log and log.rstrip().endswith("bot stopped")
    # nothing half-done: every order intent was answered and recorded
    import sqlite3

    con = sqlite3.connect(data / "bot.sqlite")
    pending = con.execute("SELECT count(*) FROM orders WHERE status='pending'").fetchone()[0]
    con.close()
    assert pending == 0
    again = start_bot(config, data, "--duration", "2")  # the lock was released
    _, err = again.communicate(timeout=60)
    assert again.returncode == 0, err[-2000:]


def test_after_kill_9_the_next_start_succeeds_at_once(config, tmp_path):
    data = tmp_path / "data"
    proc = start_bot(config, data)
    wait_status(config, data, lambda s: s["bot"]["running"], message="running")
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    again = start_bot(config, data, "--duration", "3")
    _, err = again.communicate(timeout=60)
    assert again.returncode == 0, err[-2000:]
    # `--duration` ended the run by itself, as gracefully as a SIGTERM (every actor stopped)
    bot_log = (data / "logs" / "bot.log").read_text()
    assert "duration reached; stopping" in bot_log and "bot stopped" in bot_log.splitlines()[-1]
    for sym in SYMBOLS:
        path = data / "logs" / (sym.replace("/", "_").replace(":", "_") + ".log")
        assert "stopped" in path.read_text().splitlines()[-1], sym
    assert status(config, data)["bot"]["running"] is False


def test_startup_errors_are_one_line_and_non_zero(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('[symbols]\nlist = ["BTC/USDT:USDT"]\n[risk]\nstop_loss_pct = -1\n')
    r = subprocess.run([os.sys.executable, str(ROOT / "bot.py"), "--config", str(bad),
                        "--data-dir", str(tmp_path / "d")], capture_output=True, text=True, timeout=60)
    assert r.returncode == 2
    assert "risk.stop_loss_pct" in r.stderr and r.stderr.strip().count("\n") == 0


def test_signal_receiver_inside_the_bot_opens_a_protected_position(tmp_path):
    import json
    import urllib.request

    from tests.e2e.test_review12b_signals_startup import listening_port

    config = write_config(
        tmp_path / "signals.toml", SYMBOLS,
        bot={"status_interval_s": 0.2}, exchange={"poll_interval_s": 0.1},
        strategy={"window": 10000, "entry_z": 5.0, "exit_z": 0.1},  # the strategy stays quiet
        paper={"latency_ms": 1}, logging={"console": False},
        signals={"enabled": True, "port": 0},  # a port of its own, read from its log line
    )
    data = tmp_path / "data"
    env = {**os.environ, "BOT_SIGNAL_TOKEN": "s3cret-token"}
    proc = start_bot(config, data, env=env)
    try:
        wait_status(config, data, lambda s: all(a["state"] == "running" and a["reconciled"]
                                                for a in s["actors"]) and all(
            a["last_tick_age_s"] is not None for a in s["actors"]), message="running with prices")
        port = wait_until(lambda: listening_port(data), timeout=60, message="signal endpoint")
        body = json.dumps({"id": "tv-1", "symbol": "ETH/USDT:USDT", "side": "short"}).encode()
        req = urllib.request.Request(f"http://127.0.0.1:{port}/signals", data=body, method="POST",
                                     headers={"Authorization": "Bearer s3cret-token",
                                              "Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as resp:
            assert resp.status == 202 and json.loads(resp.read())["status"] == "accepted"
        s = wait_status(config, data, lambda s: s["health"]["open_positions"] == 1, message="position")
        eth = next(a for a in s["actors"] if a["symbol"] == "ETH/USDT:USDT")
        assert eth["position"]["side"] == "short" and s["health"]["ts_coverage"] == 1.0
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err[-2000:]
    finally:
        if proc.poll() is None:
            proc.kill()
    assert "s3cret-token" not in (data / "logs" / "bot.log").read_text()
