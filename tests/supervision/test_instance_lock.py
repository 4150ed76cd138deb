"""InstanceLock against real processes: a holder blocks others; SIGKILL frees the lock at once."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from supervision.instance_lock import (
    AlreadyRunning,
    InstanceLock,
    LockFileError,
    holder_pid,
    is_locked,
)

REPO = Path(__file__).resolve().parents[2]
HOLDER = """
import sys
from pathlib import Path
from supervision import instance_lock
lock = getattr(instance_lock, sys.argv[2])(Path(sys.argv[1]))
lock.acquire()
print("locked", flush=True)
sys.stdin.read()  # hold until killed or stdin closes
"""


def start_holder(lock_path: Path, lock_class: str = "InstanceLock") -> subprocess.Popen:
    """A real process holding `lock_path` with supervision.instance_lock's `lock_class`
    (InstanceLock or FileLock), once it said so; `stop` kills it."""
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(lock_path), lock_class],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    deadline, out = time.monotonic() + 20, b""
    while b"locked\n" not in out:
        remaining = deadline - time.monotonic()
        if remaining <= 0 or proc.poll() is not None:
            proc.kill()
            raise AssertionError(f"holder did not take the lock (output {out!r})")
        if select.select([proc.stdout], [], [], remaining)[0]:
            out += os.read(proc.stdout.fileno(), 1024)
    return proc


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    proc.stdin.close()
    proc.stdout.close()


def test_second_process_is_refused_and_sigkill_frees_the_lock(tmp_path: Path):
    path = tmp_path / "data" / "bot.lock"
    child = start_holder(path)
    try:
        assert is_locked(path)
        assert holder_pid(path) == child.pid
        with pytest.raises(AlreadyRunning) as info:
            InstanceLock(path).acquire()
        assert info.value.pid == child.pid
        assert str(info.value) == (
            f"another bot is already running on {tmp_path / 'data'} (PID {child.pid} holds {path})"
        )
    finally:
        stop(child)  # SIGKILL: no cleanup code runs in the child
    lock = InstanceLock(path)
    lock.acquire()  # immediately: the kernel released the dead child's lock
    try:
        assert holder_pid(path) == os.getpid()
        assert is_locked(path)
    finally:
        lock.release()
    assert not is_locked(path)
    assert path.exists()  # release() keeps the file


def test_child_is_refused_while_we_hold_the_lock(tmp_path: Path):
    path = tmp_path / "bot.lock"
    with InstanceLock(path):
        result = subprocess.run(
            [sys.executable, "-c", HOLDER, str(path), "InstanceLock"],
            capture_output=True, cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)},
            timeout=30, input=b"",
        )
        assert result.returncode != 0
        assert f"(PID {os.getpid()} holds {path})" in result.stderr.decode()
    assert not is_locked(path)


def test_reacquire_release_and_missing_file(tmp_path: Path):
    path = tmp_path / "bot.lock"
    assert not is_locked(path) and holder_pid(path) is None
    lock = InstanceLock(path)
    lock.acquire()
    lock.acquire()  # idempotent for the same object
    assert lock.held and path.read_text() == f"{os.getpid()}\n"
    with pytest.raises(AlreadyRunning):
        InstanceLock(path).acquire()  # another descriptor in the same process is refused too
    lock.release()
    lock.release()
    assert not lock.held and not is_locked(path)
    path.write_text("garbage")
    assert holder_pid(path) is None
    with InstanceLock(path) as again:
        assert again.held and holder_pid(path) == os.getpid()


def test_a_lock_file_that_cannot_be_written_is_one_error_naming_it(tmp_path: Path):
    """Another OSError than "held" (here ENOSPC/EINVAL: the lock file is /dev/full, which takes
    the flock but no PID) is a LockFileError naming the file, what failed and the error's
    meaning, never a bare OSError; the lock is not left held."""
    path = tmp_path / "bot.lock"
    path.symlink_to("/dev/full")
    lock = InstanceLock(path)
    with pytest.raises(LockFileError) as caught:
        lock.acquire()
    text = str(caught.value)
    assert text.startswith(f"{path}: cannot write this process's PID into the lock file (")
    assert "EINVAL: Invalid argument" in text and "\n" not in text
    assert not lock.held and not is_locked(path)
