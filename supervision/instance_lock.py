"""Single-instance guard: an exclusive ``flock`` on the lock file, held for the process life.

The kernel drops the lock when the process dies (even by ``kill -9``), so a stale lock is
impossible; the PID written into the file is informational only.
"""

from __future__ import annotations

import errno
import fcntl
import os
import time
from pathlib import Path

# A probe by is_locked() holds a shared lock for a few microseconds; retry this long before
# concluding that another bot holds the lock.
_PROBE_GRACE_S = 0.2


class AlreadyRunning(RuntimeError):
    def __init__(self, pid: int | None, path: Path, subject: str | None = None) -> None:
        self.pid = pid
        self.path = Path(path)
        self.subject = subject
        holder = f"PID {pid}" if pid is not None else "an unknown PID"
        if subject is None:
            text = f"another bot is already running on {self.path.parent} ({holder} holds {self.path})"
        else:
            text = f"another bot is already trading {subject} ({holder} holds {self.path})"
        super().__init__(text)


def holder_pid(path: Path) -> int | None:
    """The PID recorded in the lock file, or None (missing, empty or garbled file)."""
    try:
        text = Path(path).read_text(encoding="ascii", errors="replace").strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def is_locked(path: Path) -> bool:
    """Whether a live process holds the lock on ``path`` (works from any process)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)


class InstanceLock:
    """``with InstanceLock(data_dir / "bot.lock"):`` or ``acquire()`` / ``release()``.

    ``subject`` (e.g. "account alpha") names what the lock guards in the refusal message;
    without it the message names the data dir."""

    def __init__(self, path: Path, subject: str | None = None) -> None:
        self.path = Path(path)
        self.subject = subject
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> None:
        """Take the lock or raise ``AlreadyRunning``; the descriptor stays open until release."""
        if self._fd is not None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            self._lock_or_raise(fd)
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
            os.fsync(fd)
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd

    def _lock_or_raise(self, fd: int) -> None:
        deadline = time.monotonic() + _PROBE_GRACE_S
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except OSError as exc:
                if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
                    raise
            if time.monotonic() >= deadline:
                raise AlreadyRunning(holder_pid(self.path), self.path, self.subject)
            time.sleep(0.01)

    def release(self) -> None:
        """Unlock and close (the file stays, holding the last PID)."""
        fd, self._fd = self._fd, None
        if fd is None:
            return
        try:
            fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)

    def __enter__(self) -> InstanceLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
