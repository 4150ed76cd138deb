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
        held = f"{holder} holds {self.path}{stopped_note(pid)}"
        if subject is None:
            text = f"another bot is already running on {self.path.parent} ({held})"
        else:
            text = f"another bot is already trading {subject} ({held})"
        super().__init__(text)


def stopped_note(pid: int | None) -> str:
    """For a holder stopped by a signal (state T: SIGSTOP, Ctrl-Z, `docker pause` of its
    process): it is never "gone" by itself. Found by review: a worker stopped while its parent
    was killed kept its account's lock, and each new start was refused naming a PID that did
    not look like a bot's problem; it exits (a worker: seeing its parent gone) once continued."""
    if pid is None:
        return ""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError, ValueError):
        return ""
    if state not in ("T", "t"):
        return ""
    return (f"; that process is stopped (SIGSTOP, Ctrl-Z) and keeps the lock until it is "
            f"continued (kill -CONT {pid}) and exits")


class LockFileError(RuntimeError):
    """A lock file that cannot be opened (read-only, a directory, a read-only file system), locked
    for a reason other than another holder (ENOLCK) or written (ENOSPC, EIO, EDQUOT): one line
    naming the file, what failed and the error's meaning (found by review: an error after the
    open reached the command line as "unexpected OSError in run: [Errno 28] No space left on
    device", naming no file)."""

    def __init__(self, path: Path, exc: OSError, doing: str = "open the lock file") -> None:
        self.path = Path(path)
        self.errno = exc.errno
        name = errno.errorcode.get(exc.errno or 0)
        meaning = exc.strerror or str(exc) or type(exc).__name__
        super().__init__(f"{self.path}: cannot {doing} "
                         f"({f'{name}: ' if name else ''}{meaning})")


def _open_lock_file(path: Path, mode: int) -> int:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        return os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, mode)
    except OSError as exc:
        # a file where its folder goes (the data dir's `locks`): said as that (found by review:
        # "EEXIST: File exists" named a lock file that does not exist)
        blocker = next((p for p in path.parents if os.path.lexists(p)), None)
        if blocker is not None and not os.path.isdir(blocker):
            not_dir = NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR))
            raise LockFileError(path, not_dir, f"open the lock file: {blocker} is not a "
                                "directory") from None
        raise LockFileError(path, exc) from None


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
    except (FileNotFoundError, NotADirectoryError):  # none there; or a file above it (found
        return False  # by review: `status --data-dir notes.txt/data` was "unexpected ...")
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
        fd = _open_lock_file(self.path, 0o600)
        try:
            self._lock_or_raise(fd)
            try:
                os.ftruncate(fd, 0)
                os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
                os.fsync(fd)
            except OSError as exc:  # ENOSPC, EIO, EDQUOT, not a regular file...
                raise LockFileError(self.path, exc, "write this process's PID into the lock "
                                    "file") from None
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
                    raise LockFileError(self.path, exc, "lock the lock file") from None
            if time.monotonic() >= deadline:
                # the file's PID, else the kernel's (a holder between its flock and its write,
                # or a file emptied by hand: "an unknown PID" though the kernel knows it)
                pid = holder_pid(self.path) or flock_holder(self.path)
                raise AlreadyRunning(pid, self.path, self.subject)
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


def flock_holder(path: Path) -> int | None:
    """The PID holding a ``flock`` on ``path``, read from the kernel's lock table (/proc/locks,
    keyed by device and inode), or None when it cannot be told."""
    try:
        st = os.stat(path)
        table = Path("/proc/locks").read_text(encoding="ascii", errors="replace")
    except OSError:
        return None
    key = f"{os.major(st.st_dev):02x}:{os.minor(st.st_dev):02x}:{st.st_ino}"
    for line in table.splitlines():
        fields = line.split()
        # "1: FLOCK  ADVISORY  WRITE 1234 08:01:5678 0 EOF" ("->" marks a waiter)
        if len(fields) >= 6 and fields[1] == "FLOCK" and fields[5] == key and fields[4].isdigit():
            return int(fields[4])
    return None


class FileInUse(AlreadyRunning):
    """A file the bot must own alone (a database) is locked by another process."""

    def __init__(self, pid: int | None, path: Path) -> None:
        super().__init__(pid, path)
        holder = f"PID {pid}" if pid is not None else "an unknown PID"
        self.args = (
            f"another bot is already using {self.path} ({holder} holds a lock on it; "
            "check storage.path and paper.store)",
        )

    def __str__(self) -> str:
        return str(self.args[0])


class FileLock(InstanceLock):
    """An exclusive ``flock`` on a shared file itself (a SQLite database), held for the process
    lifetime: whatever path or symlink leads to the file, and even if every ``*.lock`` file was
    deleted, a second bot cannot open it for trading. The file's content is never touched.

    SQLite's own locks are POSIX (``fcntl``) locks, independent of ``flock`` on Linux. Closing
    any descriptor of a file drops the process's POSIX locks on it, so ``release()`` must come
    after every connection to the file is closed (the runner releases locks last)."""

    def acquire(self) -> None:
        if self._fd is not None:
            return
        fd = _open_lock_file(self.path, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
                raise LockFileError(self.path, exc, "lock the file") from None
            raise FileInUse(flock_holder(self.path), self.path) from None
        self._fd = fd
