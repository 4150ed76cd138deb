"""The files behind the log streams: append-only descriptors with size-based rotation, and the
one-line reports when a file cannot be written.

A batch of lines is written with as few ``os.write`` calls as rotation allows (one per file per
flush in the common case); a file never grows past its rotation size because of a batch.
"""

from __future__ import annotations

import atexit
import contextlib
import errno
import os
import resource
import sys
import threading
from collections.abc import Callable, MutableMapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from observability.log_budget import LogBudget

Write = Callable[[int, bytes | memoryview], int]
RotationFault = Callable[[Path, "OSError | None"], None]
"""Told when a file's rotation fails (the error) and when it rotates again (None)."""

OPEN_FLAGS = os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_CLOEXEC", 0)


class LogFileError(RuntimeError):
    """The process's own log file (logs/bot.log, a worker's) cannot be opened at start: a
    directory in its place, another user's file. One line naming the file and the error's
    meaning, exit 2 (found by review: "unexpected IsADirectoryError in run", labelled as a bug,
    its traceback written nowhere since it was to go to that very file)."""

    def __init__(self, path: Path, exc: OSError) -> None:
        self.path = Path(path)
        name = errno.errorcode.get(exc.errno or 0)
        meaning = exc.strerror or str(exc) or type(exc).__name__
        super().__init__(f"{self.path}: cannot open the log file "
                         f"({f'{name}: ' if name else ''}{meaning})")


def default_max_open_files() -> int:
    """Half the soft descriptor limit (the rest is for sockets, SQLite...), within 64..8192."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return 8192
    return max(64, min(8192, soft // 2))


def _last_byte(path: Path) -> bytes | None:
    """The file's last byte (None: unreadable, or gone meanwhile)."""
    try:
        with open(path, "rb") as f:
            f.seek(-1, os.SEEK_END)
            return f.read(1)
    except OSError:
        return None


class AppendFile:
    """An O_APPEND descriptor (0600) with an in-memory size counter and size-based rotation
    (``X.log`` -> ``X.log.1`` ... ``X.log.<retention>``), so no ``stat`` per write."""

    def __init__(
        self, path: Path, rotate_bytes: int, retention: int, write: Write = os.write,
        budget: LogBudget | None = None, rotation_fault: RotationFault | None = None,
    ) -> None:
        self.path = path
        self._rotation_fault = rotation_fault
        self._rotate_bytes = rotate_bytes
        self._retention = retention
        self._os_write = write
        self._budget = budget  # the folder's cap: told after each rotation
        self._fd = -1
        self._size = 0
        self._torn = False  # the last write stopped inside a line
        self._reopen()

    def write(self, data: bytes) -> None:
        self.write_lines((data,))

    def write_lines(self, lines: Sequence[bytes]) -> None:
        """Append ``lines`` in order: one write when they fit before the rotation size,
        otherwise one write per stretch between rotations (the rule is the per-line one: a
        line that would take a non-empty file past the size starts a new file). A rotation
        that fails leaves the rest of the batch in the current file; the next batch tries
        again."""
        if self._fd < 0:  # a rotation or a reopen that failed half-way (disk full) left it
            # closed; its folder too is made again (found by review: a logs folder deleted and
            # not made again at once was never made, every line of the file lost for good)
            self.reopen()
        data = b"".join(lines)
        if self._size + len(data) <= self._rotate_bytes:
            self._write(data)
            return
        chunk: list[bytes] = []
        size = self._size
        rotate = True
        for line in lines:
            if rotate and size and size + len(line) > self._rotate_bytes:
                if chunk:
                    self._write(b"".join(chunk))
                    chunk = []
                rotate = self._rotate()
                size = self._size
            chunk.append(line)
            size += len(line)
        if chunk:
            self._write(b"".join(chunk))

    def _write(self, data: bytes) -> None:
        """All of ``data`` (a partial write - a signal, a nearly full disk - goes on with the
        rest). A write that failed inside a line (disk full) leaves the file torn: the next
        write ends that line first, so the torn line never swallows a whole one."""
        if self._torn:
            data = b"\n" + data
        view = memoryview(data)
        try:
            while view:
                view = view[self._os_write(self._fd, view):]
        finally:
            if len(view) < len(data):  # something was written: the file ends torn or whole
                self._size += len(data) - len(view)
                self._torn = bool(view)

    def _rotate(self) -> bool:
        """Move the files one up and open a new one; False: a rename failed (found by review:
        the file stayed closed and every later batch failed at its rotation, all its lines
        lost although the file could be written), the current file is written on."""
        try:
            # this process's budget deletes nothing while the files move (log_budget.py)
            with self._budget.lock if self._budget is not None else contextlib.nullcontext():
                for index in range(self._retention - 1, 0, -1):
                    older = self.path.with_name(f"{self.path.name}.{index}")
                    try:  # another process's budget (run --workers) may have deleted it
                        os.replace(older, self.path.with_name(f"{self.path.name}.{index + 1}"))
                    except FileNotFoundError:
                        pass
                with contextlib.suppress(FileNotFoundError):  # deleted: a new file anyway
                    os.replace(self.path, self.path.with_name(f"{self.path.name}.1"))
        except OSError as exc:
            if self._rotation_fault is not None:
                self._rotation_fault(self.path, exc)
            return False
        if self._rotation_fault is not None:
            self._rotation_fault(self.path, None)
        os.close(self._fd)
        self._fd = -1
        self._torn = False  # a new file
        self._reopen()
        if self._budget is not None:
            self._budget.poke()
        return True

    def unlinked(self) -> bool:
        """The file was deleted (with its folder: ``rm -r logs``) while open: lines written
        to it reach no file anyone can read."""
        return self._fd >= 0 and os.fstat(self._fd).st_nlink == 0

    def reopen(self) -> None:
        """Open the path again, creating its folder (0700) if it is gone."""
        self.close()
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._torn = False
        self._reopen()

    def _reopen(self) -> None:
        self._fd = os.open(self.path, OPEN_FLAGS, 0o600)
        self._size = os.fstat(self._fd).st_size
        # a file left torn by the process before (kill -9 stops a write between two pages):
        # the next write ends that line first, as after a failed write
        self._torn = self._size > 0 and _last_byte(self.path) not in (b"\n", None)

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


class ConsoleCopy:
    """The bot.log lines of each batch, copied to a console stream (stderr) by a thread of its
    own, so a console that stops reading (a full pipe, a paused terminal) holds up neither the
    files nor the logging calls.

    Best effort: the files are the record. Past ``max_bytes`` queued, batches are dropped and
    counted until the thread takes the queue, and one line then says how many; a console that
    cannot take the lines (closed pipe) loses them silently. ``close()`` waits at most
    ``close_timeout`` s for the queued lines to be written."""

    def __init__(
        self, stream: TextIO, *, max_bytes: int = 2**20, close_timeout: float = 2.0
    ) -> None:
        self._stream = stream
        self._max_bytes = max_bytes
        self._close_timeout = close_timeout
        self._queue: list[bytes] = []
        self._queued = 0  # bytes in _queue
        self._dropped = 0  # lines dropped since the thread last took the queue
        self._closed = False
        self._ready = threading.Condition(threading.Lock())
        self._thread = threading.Thread(target=self._run, name="log-console", daemon=True)
        self._thread.start()
        atexit.register(self.close)  # after the flusher's exit flush (atexit runs LIFO)

    def write(self, lines: Sequence[bytes]) -> None:
        """Queue the lines; never waits for the console."""
        with self._ready:
            if self._dropped or self._queued >= self._max_bytes:
                self._dropped += len(lines)  # dropping goes on until the queue is taken
                return
            data = b"".join(lines)
            self._queue.append(data)
            self._queued += len(data)
            self._ready.notify()

    def _run(self) -> None:
        while True:
            with self._ready:
                while not self._queue and not self._dropped and not self._closed:
                    self._ready.wait()
                if not self._queue and not self._dropped:
                    return  # closed, and everything queued is written
                data = b"".join(self._queue)
                dropped = self._dropped
                self._queue, self._queued, self._dropped = [], 0, 0
            if dropped:
                data += (
                    f"log console: {dropped} lines were not shown (the console was not "
                    "reading); they are in the log files\n"
                ).encode()
            self._emit(data)

    def _emit(self, data: bytes) -> None:
        try:
            try:
                fd = self._stream.fileno()
            except (AttributeError, OSError, ValueError):  # e.g. a capturing test stream
                self._stream.write(data.decode("utf-8", "replace"))
                self._stream.flush()
                return
            self._stream.flush()  # text written to it before must come first
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
        except (OSError, ValueError):
            pass  # see the class docstring

    def close(self) -> None:
        """Write what is queued, waiting ``close_timeout`` s at most (a stuck console)."""
        atexit.unregister(self.close)
        with self._ready:
            self._closed = True
            self._ready.notify()
        if self._thread is not threading.current_thread():
            self._thread.join(self._close_timeout)


def reopen_if_deleted(main: AppendFile, streams: MutableMapping[Any, AppendFile],
                      faults: WriteFaults) -> None:
    """bot.log deleted while open (the logs folder removed): said once, then every file is
    opened again where it belongs (the folder made again; ``streams`` reopen on demand).
    An actor's file deleted on its own (``rm -r logs/<account>``, ``rm logs/X.log``) is said
    once per folder and opened again by its next line (found by review: its lines went to the
    deleted file, unreadable and unsaid, until a rotation)."""
    try:
        if not main.unlinked():
            _drop_deleted(streams, faults)
            return
        for stream in streams.values():
            stream.close()
        streams.clear()
        main.reopen()
    except OSError as exc:
        faults.failed(main.path, exc, 0)
        return
    faults.report(f"log file {main.path} was deleted while the bot ran; its lines since then "
                  "are lost, the log files are written again")


def _drop_deleted(streams: MutableMapping[Any, AppendFile], faults: WriteFaults) -> None:
    """Close the actors' files that were deleted while open, so their next line opens them
    again (and their folder: ``LogStreams._stream``); one report per folder."""
    folders: set[Path] = set()
    for key, stream in list(streams.items()):
        try:
            if not stream.unlinked():
                continue
        except OSError:
            continue  # not ours to judge here: a write to it reports its own fault
        stream.close()
        del streams[key]
        folders.add(stream.path.parent)
    for folder in sorted(folders):
        faults.report(f"log files in {folder} were deleted while the bot ran; their lines "
                      "since then are lost, the files are written again")


def to_stderr(text: str) -> None:
    try:
        sys.__stderr__.write(text + "\n")  # type: ignore[union-attr]
        sys.__stderr__.flush()  # type: ignore[union-attr]
    except (OSError, ValueError, AttributeError):
        pass  # nowhere left to say it


class WriteFaults:
    """One line per log file and reason when writing fails, and one when it works again."""

    def __init__(self, report: Callable[[str], None]) -> None:
        self._report = report
        self._failing: dict[Path, tuple[str, int]] = {}
        self._unrotated: dict[Path, str] = {}  # file -> why its rotation fails

    def failed(self, path: Path, exc: OSError, lines: int = 1) -> None:
        reason = exc.strerror or str(exc)
        known = self._failing.get(path)
        if known is None or known[0] != reason:
            self._report(
                f"log file {path} cannot be written ({reason}); its lines are lost "
                "until it can, the bot keeps trading"
            )
        self._failing[path] = (reason, (known[1] if known else 0) + lines)

    def rotation(self, path: Path, exc: OSError | None) -> None:
        """A rotation failed (``exc``) or worked: said once per file and reason, and once
        when it works again."""
        if exc is None:
            if self._unrotated.pop(path, None) is not None:
                self._report(f"log file {path} is rotated again")
            return
        reason = exc.strerror or str(exc)
        if self._unrotated.get(path) != reason:
            where = f", renaming {exc.filename} to {exc.filename2}" if exc.filename2 else ""
            self._report(
                f"log file {path} cannot be rotated ({reason}{where}); its lines go on in it, "
                "rotation is tried again at each batch"
            )
        self._unrotated[path] = reason

    def report(self, text: str) -> None:
        self._report(text)

    @property
    def failing(self) -> bool:
        return bool(self._failing)

    def ok(self, path: Path) -> None:
        if path in self._failing:
            _, lost = self._failing.pop(path)
            self._report(f"log file {path} is written again ({lost} lines were lost)")
