"""Issue 16 item 10: a second bot through the files, not the data dir, is refused (real
subprocesses). The databases themselves are locked for the process lifetime, so absolute
storage.path / paper.store pointing at a running bot's files, or deleted *.lock files, do not
let a second bot in; it exits 3 and names the PID holding the file."""

from __future__ import annotations

import signal

import pytest

from tests.e2e.bot_process import start_bot, wait_status, write_config

SYMBOLS = ["BTC/USDT:USDT", "ETH/USDT:USDT"]
pytestmark = pytest.mark.slow
COMMON = dict(bot={"status_interval_s": 0.2}, exchange={"poll_interval_s": 0.1},
              paper={"latency_ms": 1, "step_ms": 100}, logging={"console": False})


def refused(config, data, holder_pid: int) -> str:
    second = start_bot(config, data, "--duration", "30")
    try:
        _, err = second.communicate(timeout=60)
    finally:
        if second.poll() is None:
            second.kill()
    assert second.returncode == 3, err[-2000:]
    assert f"PID {holder_pid}" in err and err.strip().count("\n") == 0, err
    return err


def test_second_bot_through_absolute_paths_or_deleted_lock_files_is_refused(tmp_path):
    data = tmp_path / "data"
    config = write_config(tmp_path / "config.toml", SYMBOLS, **COMMON)
    first = start_bot(config, data)
    try:
        wait_status(config, data, lambda s: s["bot"]["running"] and all(
            a["state"] == "running" for a in s["actors"]), message="first bot running")
        db, store = data / "bot.sqlite", data / "paper_exchange.sqlite"

        by_db = write_config(tmp_path / "by_db.toml", SYMBOLS, **COMMON, storage={"path": str(db)})
        err = refused(by_db, tmp_path / "other1", first.pid)
        assert str(db) in err

        by_store = write_config(tmp_path / "by_store.toml", SYMBOLS, bot=COMMON["bot"],
                                exchange=COMMON["exchange"], logging=COMMON["logging"],
                                paper={**COMMON["paper"], "store": str(store)})
        err = refused(by_store, tmp_path / "other2", first.pid)
        assert str(store) in err

        (data / "bot.lock").unlink()
        (data / "locks" / "main.lock").unlink()
        refused(config, data, first.pid)

        first.send_signal(signal.SIGTERM)
        _, err = first.communicate(timeout=60)
        assert first.returncode == 0, err[-2000:]
    finally:
        if first.poll() is None:
            first.kill()
