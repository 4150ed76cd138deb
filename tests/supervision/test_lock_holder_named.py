"""A second start names the PID holding the lock even when the lock file does not (INCIDENTS.md
rule 1: a second start exits non-zero and names the PID holding the lock).

Mutation audit (helper t): without the kernel's answer (`flock_holder`, /proc/locks) when the
file holds no PID, the refusal says "an unknown PID" though the kernel knows it (a file emptied
by hand, or a holder between its flock and its PID write). The audit ran tests/supervision only;
tests/runtime/test_lock_holder_named.py (`bot.py run`, a holder that never writes its PID)
fails with that mutation too. This one is the lock's own check, for a file emptied by hand.

The holder is a real process taking the lock with `InstanceLock`."""

from __future__ import annotations

import os

import pytest

from supervision.instance_lock import AlreadyRunning, InstanceLock
from tests.supervision.test_instance_lock import start_holder, stop


def test_a_lock_file_emptied_by_hand_still_names_the_holder(tmp_path):
    path = tmp_path / "bot.lock"
    holder = start_holder(path)
    try:
        assert path.read_text().strip() == str(holder.pid)
        os.truncate(path, 0)  # emptied by hand: the file names nobody now
        with pytest.raises(AlreadyRunning) as refused:
            InstanceLock(path).acquire()
        assert refused.value.pid == holder.pid
        assert f"PID {holder.pid} holds {path}" in str(refused.value)
    finally:
        stop(holder)
