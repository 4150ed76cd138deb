"""A cap on the disk space of the whole log folder (``logging.max_total_mb``).

Each file rotates on its own (``X.log`` -> ``X.log.1`` ... ``X.log.<retention>``), so the folder
grows with the number of streams: at 500 symbols and the defaults, 501 x 6 x 20 MiB, about
59 GiB, enough to fill a disk and stop the database from committing. ``LogBudget`` keeps the
log files (``*.log`` and ``*.log.<n>``, in the folder and its account folders) within
``max_bytes``: past it, rotated files (``X.log.<n>``, never a file being written) are deleted,
oldest first, across every stream, until the total fits or no rotated file is left.

The folder is looked at when a file rotates (``poke``, an ``Event.set`` from the writing
thread) and once when the streams are attached to the logger, by a thread of its own: never
per line, and never inside a logging call. Between two looks a process writes at most about
twice its main file's rotation size (every line goes to its main file and at most one other),
which bounds the overshoot. Several processes writing one folder (``run --workers``) each
keep it within the cap; a file another one deleted first is skipped.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

from loguru import logger

_LIVE = re.compile(r".+\.log")
_ROTATED = re.compile(r".+\.log\.(\d+)")
MIB = 2**20


class LogFile(NamedTuple):
    path: Path
    size: int
    mtime_ns: int
    ino: int
    number: int  # 0: a file being written (X.log); n: X.log.<n>


def log_files(logs_dir: Path) -> list[LogFile]:
    """The log files in ``logs_dir`` and its folders (one level: the accounts'); files that
    vanish while they are listed are left out."""
    found: list[LogFile] = []
    folders = [logs_dir]
    while folders:
        folder = folders.pop()
        try:
            entries = list(os.scandir(folder))
        except OSError:  # gone (rm -r logs) or not readable: nothing of it to count or delete
            continue
        for entry in entries:
            try:
                if entry.is_dir(follow_symlinks=False):
                    if folder == logs_dir:
                        folders.append(Path(entry.path))
                    continue
                rotated = _ROTATED.fullmatch(entry.name)
                if not entry.is_file(follow_symlinks=False) or not (
                        rotated or _LIVE.fullmatch(entry.name)):
                    continue
                stat = entry.stat(follow_symlinks=False)
            except OSError:  # deleted while listed
                continue
            index = int(rotated.group(1)) if rotated else 0
            found.append(LogFile(Path(entry.path), stat.st_size, stat.st_mtime_ns, stat.st_ino,
                                 index))
    return found


def _mib(size: int) -> str:
    return f"{size / MIB:.1f} MiB" if size >= MIB // 10 else f"{size} bytes"


class LogBudget:
    """Keeps the log files of ``logs_dir`` within ``max_bytes`` (see the module docstring);
    ``report`` gets one line per pass that deleted files (default: an INFO log line)."""

    def __init__(self, logs_dir: Path, max_bytes: int, *,
                 report: Callable[[str], None] | None = None,
                 key: str = "logging.max_total_mb") -> None:
        if max_bytes < 1:
            raise ValueError("max_bytes must be >= 1")
        self.logs_dir = Path(logs_dir)
        self.max_bytes = max_bytes
        self._report = report or (lambda text: logger.info("{}", text))
        self._key = key
        self._live_over = False  # said once that the files being written alone exceed the cap
        self._due = threading.Event()
        self._closed = False
        self._pass = threading.Lock()  # one pass at a time (the thread, or a direct trim())
        self.lock = threading.Lock()
        """Held while files are deleted, and by this process's rotations while they rename
        (AppendFile): a path checked just before its deletion still names the file listed."""
        self._thread = threading.Thread(target=self._run, name="log-budget", daemon=True)
        self._thread.start()

    def poke(self) -> None:
        """A file rotated: look at the folder soon (cheap; called by the writing thread)."""
        self._due.set()

    def _run(self) -> None:
        while True:
            self._due.wait()
            if self._closed:
                return
            self._due.clear()
            try:
                self.trim()
            except Exception as exc:  # noqa: BLE001 - a dead thread would end the cap silently
                self._say(f"log budget: {type(exc).__name__}: {exc}; tried again at the next "
                          "rotation")

    def trim(self) -> list[Path]:
        """Delete rotated files, oldest first, until the log files fit; the deleted paths."""
        removed: list[LogFile] = []
        with self._pass:
            files = log_files(self.logs_dir)
            total = sum(f.size for f in files)
            live = sum(f.size for f in files if not f.number)
            # oldest first; of one stream's files last written at once, the highest number
            rotated = sorted((f for f in files if f.number),
                             key=lambda f: (f.mtime_ns, -f.number, str(f.path)))
            with self.lock:
                for old in rotated:
                    if total <= self.max_bytes:
                        break
                    gone = self._unlink(old)
                    if gone == "moved":  # rotated since it was listed: list the folder again
                        self._due.set()
                        break
                    if gone == "removed":
                        removed.append(old)
                    if gone != "kept":
                        total -= old.size  # gone, by us or by another process
        if removed:
            freed = sum(f.size for f in removed)
            names = ", ".join(str(f.path.relative_to(self.logs_dir)) for f in removed[:3])
            more = f" and {len(removed) - 3} more" if len(removed) > 3 else ""
            self._say(f"log budget: removed {len(removed)} rotated log files ({_mib(freed)}, "
                      f"oldest first: {names}{more}) to keep {self.logs_dir} within {self._key} "
                      f"= {self.max_bytes / MIB:g}; the log files take {_mib(max(total, 0))}")
        if live > self.max_bytes and not self._live_over:
            self._say(f"log budget: the log files being written take {_mib(live)} by "
                      f"themselves, more than {self._key} = {self.max_bytes / MIB:g}; they are "
                      "never removed: lower logging.rotate_mb to fit them")
        self._live_over = live > self.max_bytes
        return [f.path for f in removed]

    @staticmethod
    def _unlink(old: LogFile) -> str:
        """Delete ``old``: "removed"; "gone" already; "moved", left alone, when its path names
        another file now (a rotation since moved a newer one there); "kept" when it cannot be
        deleted (not ours to delete: the next older file is tried)."""
        try:
            if os.stat(old.path, follow_symlinks=False).st_ino != old.ino:
                return "moved"
            os.unlink(old.path)
        except FileNotFoundError:
            return "gone"
        except OSError:
            return "kept"
        return "removed"

    def _say(self, text: str) -> None:
        try:
            self._report(text)
        except Exception:  # noqa: BLE001, S110 - nowhere left to say it
            pass

    def close(self) -> None:
        self._closed = True
        self._due.set()
        if self._thread is not threading.current_thread():
            self._thread.join(timeout=10)
