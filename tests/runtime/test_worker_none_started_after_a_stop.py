"""`run --workers N`: a SIGTERM that reaches the parent while it is still starting (before it
forked its workers) stops it without forking them. Found by review: SIGTERM 0.4-1.8 s after
`bot.py run --workers 2` (the parent still importing and planning) logged "worker 1 started",
"worker 2 started", then both "stopped (exit code -15)": N interpreters forked only to be
killed during their imports, and a status whose `last_exit -15` reads like a crash. The
parent's stop event (what SIGTERM sets) is injected already set; `popen` is injected and each
process it would start is a real one that never beats."""

from __future__ import annotations

import threading
from pathlib import Path

from config.loader import load_settings
from runtime.workers import WorkerParent
from tests.e2e.test_workers import write_accounts_config
from tests.runtime.worker_rig import SLEEPS, ScriptPopen


def test_a_stop_asked_before_the_workers_start_forks_none(tmp_path: Path) -> None:
    config = write_accounts_config(tmp_path / "bot.toml")
    popen = ScriptPopen(SLEEPS)
    stop = threading.Event()
    stop.set()  # SIGTERM arrived while the parent was starting
    p = WorkerParent(load_settings(config), tmp_path / "data", workers=2, config=config,
                     popen=popen, stop_event=stop)
    try:
        assert p.run(duration_s=60.0) == 0
    finally:
        for proc in popen.started:
            proc.kill()
            proc.wait()
    assert popen.started == []
    assert [(w.index, w.pid, w.last_exit) for w in p.workers] == [(1, None, None), (2, None, None)]
    log = (tmp_path / "data" / "logs" / "bot.log").read_text()
    assert "worker 1 started" not in log and "stopping every worker gracefully" in log
    assert "bot stopped" in log.splitlines()[-1]
