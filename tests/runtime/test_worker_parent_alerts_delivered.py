"""`run --workers N`: the parent's alerts are delivered before it exits. Found by review: the
parent waited for its alert hooks only when it failed, and then after its log was closed: a
`worker_hung` or `crash_loop` alert raised shortly before a SIGTERM or the end of --duration
died with the process (the hooks run on daemon threads), and a hook still running at a failed
stop was warned about into a closed log. The parent's `popen` is injected; each started process
is a real one that never beats (a worker hung at its start), so the parent raises
`worker_hung` one second after its start; the alert command is a real, slow program."""

from __future__ import annotations

import sys
import threading
from pathlib import Path

from config.loader import load_settings
from runtime.workers import WorkerParent
from tests.e2e.test_workers import write_accounts_config
from tests.runtime.worker_rig import SLEEPS, ScriptPopen

HOOK = ("import sys, time\n"
        "body = sys.stdin.read()\n"
        "time.sleep(4)  # a slow webhook relay\n"
        "open(sys.argv[1], 'a').write(body + '\\n')\n")


def _run_until_hung(tmp_path: Path, config: Path) -> WorkerParent:
    """The parent of one worker that never beats, stopped (its stop event set) from the
    listener of its worker_hung alert, raised once the worker is 1 s past its start: the alert
    is raised just before the stop, whatever the machine's load (a fixed 2 s run raced the
    alert on a loaded machine). Bounded: a parent that never alerts ends after 120 s and the
    assertions fail. The stand-ins killed after."""
    popen = ScriptPopen(SLEEPS)
    stop = threading.Event()
    p = WorkerParent(load_settings(config), tmp_path / "data", workers=1, config=config,
                     popen=popen, stop_event=stop)
    p.alerts.listen(lambda alert: stop.set() if alert["kind"] == "worker_hung" else None)
    try:
        assert p.run(duration_s=120.0) == 0
    finally:
        for proc in popen.started:
            proc.kill()
            proc.wait()
    assert stop.is_set(), "the parent ran its whole bound without a worker_hung alert"
    return p


def test_an_alert_raised_just_before_the_stop_is_delivered_before_the_parent_returns(
        tmp_path: Path) -> None:
    hook, delivered = tmp_path / "hook.py", tmp_path / "delivered.jsonl"
    hook.write_text(HOOK)
    config = write_accounts_config(
        tmp_path / "bot.toml", "worker_start_timeout_s = 1\nbackoff_initial_s = 30\n"
        f'alert_command = "{sys.executable} {hook} {delivered}"\n')
    p = _run_until_hung(tmp_path, config)
    assert [a["kind"] for a in p.alerts.sent] == ["worker_hung"]
    assert delivered.exists() and '"kind": "worker_hung"' in delivered.read_text()


def test_the_parent_alerts_through_the_hooks_each_account_configures(tmp_path: Path) -> None:
    """Found by review: the parent raised its alerts (worker_hung, crash_loop,
    worker_escalation) through the top-level [supervision] hooks only. An account's own
    supervision.alert_command (the others inheriting none) never heard that its worker hung
    or that the whole bot stopped, while the one-process bot tells every account's hooks of a
    fault of the whole bot (runtime/runner.py `_alert_all`)."""
    hook = tmp_path / "hook.py"
    hook.write_text(HOOK.replace("time.sleep(4)", "time.sleep(0)"))
    config = write_accounts_config(tmp_path / "bot.toml",
                                   "worker_start_timeout_s = 1\nbackoff_initial_s = 30\n")
    text = config.read_text()
    for name in ("alpha", "beta"):  # two accounts with their own hook; gamma has none
        line = f'name = "{name}"\n'
        text = text.replace(line, f'{line}supervision.alert_command = "{sys.executable} {hook} '
                                  f'{tmp_path / name}.jsonl"\n')
    config.write_text(text)
    _run_until_hung(tmp_path, config)
    for name in ("alpha", "beta"):
        delivered = tmp_path / f"{name}.jsonl"
        assert delivered.exists(), f"{name}'s hook was not told"
        lines = delivered.read_text().splitlines()
        assert len(lines) == 1 and '"kind": "worker_hung"' in lines[0]
