"""The `run --workers N` parent under test with its `popen` injected: each worker it starts is
a real `python -c` process running a few lines that stand in for the worker (exit at once, beat
then die, never beat), so the parent's own logic meets real exits, pipes and pids."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

from config.loader import load_settings
from runtime.workers import WorkerParent
from runtime.workers_status import Worker
from tests.e2e.test_workers import write_accounts_config

SLEEPS = "import time; time.sleep(60)"  # a worker that never beats (hung at its start)


class ScriptPopen:
    """Starts `python -c code` for each worker, given the worker's pipe fds (and its cwd and
    environment with `worker_env`: the heartbeat fd is named there); keeps what it started."""

    def __init__(self, code: str, *, worker_env: bool = False) -> None:
        self.code, self.worker_env = code, worker_env
        self.started: list[subprocess.Popen[bytes]] = []

    def __call__(self, args: list[str], **kwargs: Any) -> subprocess.Popen[bytes]:
        where = {"cwd": kwargs.get("cwd"), "env": kwargs.get("env")} if self.worker_env else {}
        proc = subprocess.Popen([sys.executable, "-c", self.code],
                                pass_fds=kwargs.get("pass_fds", ()), **where)
        self.started.append(proc)
        return proc


def one_worker_parent(tmp_path: Path, popen: ScriptPopen,
                      supervision: str = "") -> tuple[WorkerParent, Worker]:
    """The parent of one worker running the three accounts of write_accounts_config (with
    `supervision`), data under tmp_path/data; the worker not started yet."""
    config = write_accounts_config(tmp_path / "bot.toml", supervision)
    p = WorkerParent(load_settings(config), tmp_path / "data", workers=1, config=config,
                     popen=popen)
    worker = Worker(index=1, accounts=("alpha", "beta", "gamma"))
    p.workers = [worker]
    return p, worker
