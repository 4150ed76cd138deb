"""`run --workers N`: the parent's alerts are delivered before it exits. Found by review: the
parent waited for its alert hooks only when it failed, and then after its log was closed: a
`worker_hung` or `crash_loop` alert raised shortly before a SIGTERM or the end of --duration
died with the process (the hooks run on daemon threads), and a hook still running at a failed
stop was warned about into a closed log. The parent's `popen` is injected; each started process
is a real one that never beats (a worker hung at its start), so the parent raises
`worker_hung` one second after its start; the alert command is a real, slow program."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

from config.loader import load_settings
from runtime.workers import WorkerParent
from tests.e2e.test_workers import write_accounts_config

HOOK = ("import sys, time\n"
        "body = sys.stdin.read()\n"
        "time.sleep(4)  # a slow webhook relay\n"
        "open(sys.argv[1], 'a').write(body + '\\n')\n")


class NeverBeats:
    def __init__(self) -> None:
        self.started: list[subprocess.Popen[bytes]] = []

    def __call__(self, args: list[str], **kwargs: Any) -> subprocess.Popen[bytes]:
        proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"],
                                pass_fds=kwargs.get("pass_fds", ()))
        self.started.append(proc)
        return proc


def test_an_alert_raised_just_before_the_stop_is_delivered_before_the_parent_returns(
        tmp_path: Path) -> None:
    hook, delivered = tmp_path / "hook.py", tmp_path / "delivered.jsonl"
    hook.write_text(HOOK)
    config = write_accounts_config(
        tmp_path / "bot.toml", "worker_start_timeout_s = 1\nbackoff_initial_s = 30\n"
        f'alert_command = "{sys.executable} {hook} {delivered}"\n')
    popen = NeverBeats()
    p = WorkerParent(load_settings(config), tmp_path / "data", workers=1, config=config,
                     popen=popen)
    try:
        assert p.run(duration_s=2.0) == 0
    finally:
        for proc in popen.started:
            proc.kill()
            proc.wait()
    assert [a["kind"] for a in p.alerts.sent] == ["worker_hung"]
    assert delivered.exists() and '"kind": "worker_hung"' in delivered.read_text()
