"""Rules 1 and 4: one bot per data directory, held by an OS lock; on SIGTERM the bot stops new
entries, lets each actor finish, persists, logs a final line per actor and for the bot, and
only then releases the lock. A second bot started "as soon as the first lets go" must never
meet a first bot still running: at the first moment the test itself can take the lock, every
actor's log already ends with its 'stopped' line and the bot's log with 'bot stopped'.

A real `python bot.py run` on a temporary data dir; the test tries `flock` on the bot's lock
file in a tight loop from the moment it sends SIGTERM, and reads the logs the moment it
succeeds."""

from __future__ import annotations

import fcntl
import os
import signal
import time

import pytest

from tests.e2e.bot_process import log_tails, start_bot, wait_status, write_config

SYMBOLS = ["BTC/USDT:USDT", "ETH/USDT:USDT", "SOL/USDT:USDT"]
pytestmark = pytest.mark.slow


def log_name(symbol: str) -> str:
    return symbol.replace("/", "_").replace(":", "_") + ".log"


def last_line(path) -> str:  # noqa: ANN001
    lines = path.read_text(errors="replace").splitlines() if path.exists() else []
    return lines[-1] if lines else ""


def test_the_lock_is_free_only_after_every_actor_and_the_bot_logged_stopped(tmp_path):
    data = tmp_path / "data"
    config = write_config(
        tmp_path / "config.toml", SYMBOLS, bot={"status_interval_s": 0.2},
        exchange={"poll_interval_s": 0.1}, paper={"latency_ms": 1, "step_ms": 100},
        logging={"console": False})
    proc = start_bot(config, data)
    fd = None
    try:
        wait_status(config, data, lambda s: s["bot"]["running"] and all(
            a["state"] == "running" for a in s["actors"]), message="all actors running")
        lock_path = data / "bot.lock"
        fd = os.open(lock_path, os.O_RDWR | os.O_CLOEXEC)
        with pytest.raises(BlockingIOError):
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # held by the running bot
        proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 60
        while True:  # no sleep: the first moment the kernel lets the lock go
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise AssertionError("the lock was never released") from None
        # what a second bot starting now would find: read at once, while we hold the lock
        bot_log = last_line(data / "logs" / "bot.log")
        actor_logs = {s: last_line(data / "logs" / log_name(s)) for s in SYMBOLS}
        out, err = proc.communicate(timeout=60)
    finally:
        if fd is not None:
            os.close(fd)
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err[-2000:]
    assert bot_log.endswith("bot stopped"), f"lock free while the bot log ended: {bot_log!r}"
    for symbol, line in actor_logs.items():
        assert "stopped" in line, f"lock free while {symbol}'s log ended: {line!r}"
    assert "bot stopped" in (data / "logs" / "bot.log").read_text(), log_tails(data)
