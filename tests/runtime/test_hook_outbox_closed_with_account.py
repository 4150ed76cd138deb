"""An account's alert-hook outbox (supervision/hook_outbox.py, its own SQLite file) is closed
with the account. A cluster node builds a new AccountRuntime each time it takes an account's
lease (runtime/node_accounts.py), in the same process, and each opened `alert_hooks.db` again:
the connection of the account before was never closed, so every lease lost and taken back left
its file descriptors open for the life of the node. Real AccountRuntime on a paper exchange,
real SQLite, the process's own descriptors read from /proc."""

from __future__ import annotations

import os
from pathlib import Path

from loguru import logger

from config.loader import load_settings
from runtime.account import AccountRuntime
from runtime.stop_accounts import stop_all
from supervision.hook_outbox import FILE_NAME

CONFIG = """
[exchange]
poll_interval_s = 0.05
[paper]
latency_ms = 0
[supervision]
heartbeat_interval_s = 0.05
alert_command = "true"
[symbols]
list = ["BTC/USDT:USDT"]
"""


def _open_on(path: Path) -> list[str]:
    """This process's descriptors open on `path` (the file itself, its -wal and -shm)."""
    found = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:  # closed meanwhile (listdir's own descriptor)
            continue
        if target.startswith(str(path)):
            found.append(target)
    return found


def test_each_account_run_closes_its_hook_outbox(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text(CONFIG)
    settings = load_settings(config)
    data = settings.data_dir_path()
    outbox = data / FILE_NAME
    for run in range(3):  # the lease taken, lost, taken again: one process
        account = AccountRuntime(settings, data, logger=logger, tagged=False)
        try:
            account.open()
            account.build()
            account.start()
            assert account.alerts is not None and account.alerts.outbox is not None
            assert _open_on(outbox), "the outbox is open while the account runs"
        finally:
            stop_all([account], logger)
            account.close()
        assert _open_on(outbox) == [], f"run {run}: the hook outbox left open"
