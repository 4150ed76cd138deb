"""A second start names the PID holding the lock even when the lock file does not (INCIDENTS.md
rule 1: a second start exits non-zero and names the PID holding the lock).

Mutation audit (helper t): dropping the kernel's answer (`flock_holder`, /proc/locks) when the
file holds no PID failed no test; the refusal then said "an unknown PID" though the kernel knew
it (a file emptied by hand, or a holder between its flock and its PID write).

The holder is a real process taking the lock with `InstanceLock`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from supervision.instance_lock import AlreadyRunning, InstanceLock

ROOT = Path(__file__).resolve().parents[2]

HOLDER = """
import sys
from pathlib import Path
from supervision.instance_lock import InstanceLock
lock = InstanceLock(Path(sys.argv[1]))
lock.acquire()
print("locked", flush=True)
sys.stdin.read()  # held until the test closes stdin
"""


def test_a_lock_file_emptied_by_hand_still_names_the_holder(tmp_path):
    path = tmp_path / "bot.lock"
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(path)], cwd=ROOT,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        assert path.read_text().strip() == str(holder.pid)
        os.truncate(path, 0)  # emptied by hand: the file names nobody now
        with pytest.raises(AlreadyRunning) as refused:
            InstanceLock(path).acquire()
        assert refused.value.pid == holder.pid
        assert f"PID {holder.pid} holds {path}" in str(refused.value)
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait(timeout=30)
