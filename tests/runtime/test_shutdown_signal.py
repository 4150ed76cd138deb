"""The stop signal's handler takes no lock. It runs in the main thread between two of its
bytecodes, and the run loop waits on the stop event several times a second, so the main
thread may hold that event's own lock at that moment: a handler that set the event there
waited for it for ever (a CI run: SIGTERM, then nothing for 60 s, no "stopping" line, killed).
A real subprocess, a real SIGTERM, delivered while the main thread holds the event's lock."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

VICTIM = """
import os, signal, sys
from runtime import shutdown
shutdown.install()
with shutdown.requested._cond:  # where Event.wait holds it between its checks
    os.kill(os.getpid(), signal.SIGTERM)  # the handler runs here, in this thread
    print("handler returned", flush=True)
print("stop requested" if shutdown.requested.wait(10) else "no stop", shutdown.received,
      flush=True)
"""


def test_sigterm_while_the_main_thread_holds_the_stop_events_lock_stops_the_bot():
    out = subprocess.run([sys.executable, "-c", VICTIM], cwd=ROOT, capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.splitlines() == ["handler returned", "stop requested ['SIGTERM']"]
