"""Per-symbol log files behind ONE loguru sink.

Every line goes to ``<logs_dir>/bot.log``; lines logged through ``logger.bind(symbol=...)`` also go
to ``<logs_dir>/<safe name>.log``. Design constraints:

* a bounded write-behind buffer: the logging call queues the line (in the handler's filter,
  so loguru's handler lock and second formatting pass are skipped); the lines reach the kernel
  in batches (formatted once for bot.log, the actor's file and the console; one ``os.write``
  per file per batch), written by a flusher thread every 20 ms, by the logging call that finds
  a line ``MAX_DELAY_S`` (50 ms) old pending, and by the call of a line at WARNING or above,
  which returns once it and every earlier line are in the kernel. So ``kill -9`` loses at most
  the INFO/DEBUG lines logged in the last 50 ms before a call that returned; each file gets its
  lines in logging order;
* constant cost per line whatever the number of symbols: a single sink dispatches on
  ``record["extra"]["symbol"]`` through a dict of lazily opened descriptors (loguru would run the
  filter of every sink on every line if we added one sink per symbol);
* lines bound with ``account`` as well (a bot running ``[[accounts]]``) go to
  ``<logs_dir>/<account>/<safe symbol>.log``, or ``<logs_dir>/<account>/bot.log`` when they name
  no symbol; the account shows in the line's tag (``alpha BTC/USDT:USDT``);
* size-based rotation per file (``X.log`` -> ``X.log.1`` ... ``X.log.<retention>``), using a size
  counter kept in memory instead of a ``stat`` per line.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from loguru import Record

import math
import os
import sys
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

from loguru import logger

from observability.log_budget import LogBudget
from observability.log_files import (
    AppendFile,
    ConsoleCopy,
    LogFileError,
    Write,
    WriteFaults,
    default_max_open_files,
    reopen_if_deleted,
    to_stderr,
)
from observability.log_flusher import Flusher
from observability.log_format import LINE_FORMAT, Key, LineFormat, Pending, escaped, traceback_text
from observability.log_paths import MAIN_LOG, safe_name, symbol_log_path
from observability.log_tail import follow, tail_lines

__all__ = [
    "LINE_FORMAT",
    "LogStreams",
    "follow",
    "safe_name",
    "setup_logging",
    "symbol_log_path",
    "tail_lines",
]

FLUSH_INTERVAL_S = 0.02
"""The flusher thread writes pending lines this often."""
MAX_DELAY_S = 0.05
"""A logging call that finds a line pending this long writes the batch itself (the bound when
the flusher thread waits for the interpreter lock behind busy threads)."""
UNLINK_CHECK_S = 1.0
"""How often a batch checks that bot.log was not deleted under the bot."""
SYNC_LEVEL = 30
"""WARNING: a line at this level or above is written before its logging call returns."""


_FILE_FORMAT = "{message}"
"""Only lines with an exception reach the sink (see ``LogStreams.before_line``); the streams
build the line prefix themselves. Loguru appends "\\n{exception}" to a static format."""


class LogStreams:
    """The sink behind ``setup_logging``; ``close()`` detaches it, writes what is pending and
    closes every file.

    ``before_line`` (``emit`` for a line with an exception) only queues the line's values,
    outside loguru's handler lock; the lines are formatted and reach the kernel in
    batches (one ``os.write`` per file per batch), written by whichever comes first: the flusher
    thread every ``flush_interval_s``; the logging call of a line at ``sync_level`` or above (it
    returns once that line and every earlier one are written); a logging call that finds a line
    ``max_delay_s`` old or ``max_pending`` lines pending (in ``before_line``).
    ``flush_interval_s=0``: every line is written in its logging call, no buffering at all.
    """

    def __init__(
        self,
        logs_dir: Path,
        *,
        rotate_bytes: int = 20 * 2**20,
        retention: int = 5,
        max_open_files: int | None = None,
        write: Write = os.write,
        report: Callable[[str], None] | None = None,
        main_name: str = MAIN_LOG,
        flush_interval_s: float = FLUSH_INTERVAL_S,
        max_delay_s: float = MAX_DELAY_S,
        sync_level: int = SYNC_LEVEL,
        max_pending: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
        console: TextIO | None = None,
        max_total_bytes: int = 0,
    ) -> None:
        max_open_files = max_open_files or default_max_open_files()
        if rotate_bytes < 1 or retention < 1 or max_open_files < 1:
            raise ValueError("rotate_bytes, retention and max_open_files must be >= 1")
        if flush_interval_s < 0 or max_delay_s < 0 or max_pending < 1:
            raise ValueError("flush_interval_s and max_delay_s must be >= 0, max_pending >= 1")
        self._write = write
        self._faults = WriteFaults(report or to_stderr)
        self.logs_dir = Path(logs_dir)
        self.logs_dir.mkdir(parents=True, exist_ok=True)
        self._main_name = main_name
        """A worker process's whole stream (runtime/workers_role.py): one writer per file."""
        self._rotate_bytes = rotate_bytes
        self._retention = retention
        self._max_open = max_open_files
        self._line = LineFormat()
        # The whole folder's cap (0: none), looked at when a file rotates: log_budget.py.
        self._budget = LogBudget(self.logs_dir, max_total_bytes) if max_total_bytes else None
        try:
            self._main: AppendFile | None = AppendFile(
                self.main_path, rotate_bytes, retention, write, self._budget,
                self._faults.rotation)
        except OSError as exc:  # a directory in its place, another user's file: one line
            raise LogFileError(self.main_path, exc) from None
        # (symbol, account) -> open file, least recently used first (bounded: the fd limit).
        self._streams: OrderedDict[Key, AppendFile] = OrderedDict()
        self.handler_ids: list[int] = []
        # The lines not written yet, in logging order.
        self._pending: deque[Pending] = deque()
        self._write_lock = threading.Lock()  # one batch at a time, so batches stay in order
        self._writing_since: float | None = None  # queue time of the batch being written
        self._max_delay = max_delay_s
        self._max_pending = max_pending
        self._sync_level = sync_level if flush_interval_s > 0 else 0  # 0: every line
        self._monotonic = clock
        self._next_check = clock() + UNLINK_CHECK_S
        self._console = ConsoleCopy(console) if console is not None else None
        self._flusher = Flusher(self.flush, flush_interval_s) if flush_interval_s > 0 else None

    @property
    def main_path(self) -> Path:
        return self.logs_dir / self._main_name

    def path_for(self, symbol: str | None, account: str | None = None) -> Path:
        return symbol_log_path(self.logs_dir, symbol, account)

    def open_files(self) -> int:
        return len(self._streams) + (1 if self._main else 0)

    def _stream(self, key: Key) -> AppendFile:
        """The open file of ``key`` (symbol, account), opened (and the least recently used
        one closed) on demand."""
        stream = self._streams.get(key)
        if stream is not None:
            self._streams.move_to_end(key)
            return stream
        while len(self._streams) >= self._max_open:
            self._streams.popitem(last=False)[1].close()
        symbol, account = key
        path = self.path_for(symbol, account)
        if account is not None:
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        stream = AppendFile(path, self._rotate_bytes, self._retention, self._write, self._budget,
                            self._faults.rotation)
        self._streams[key] = stream
        return stream

    def attach(self, level: str = "INFO") -> int:
        """Add the streams to loguru as one handler (``close()`` removes it)."""
        handler_id = logger.add(
            self.emit, format=_FILE_FORMAT, filter=self.before_line, level=level.upper(),
            enqueue=False, backtrace=False, diagnose=False,  # diagnose prints variable values
        )
        self.handler_ids.append(handler_id)
        if self._budget is not None:
            self._budget.poke()  # the folder as found (an old one, a lowered cap), said in it
        return handler_id

    def before_line(self, record: Record) -> bool:
        """Loguru filter, called before loguru's handler lock, unlike ``emit``: it queues the
        line itself and returns False, so loguru neither formats the line a second time nor
        takes that lock (500 logging threads convoyed on it: a holder descheduled by the
        interpreter made every other thread block on the lock and switch, ~1.5 context
        switches per line). A line with an exception returns True: loguru formats the
        traceback and ``emit`` queues the result.

        Before that, a line pending ``max_delay_s`` (or ``max_pending`` lines) is written here.
        A line in a batch still being written counts as pending: flush() waits for that
        batch."""
        pending = self._pending
        try:
            oldest = pending[0][0]  # read before _writing_since: see flush()
        except IndexError:
            oldest = math.inf
        writing = self._writing_since
        if writing is not None and writing < oldest:
            oldest = writing
        now = self._monotonic()
        if now - oldest >= self._max_delay or len(pending) >= self._max_pending:
            self._write_due()  # (the line below keeps `now`: queued a bit early, written sooner)
        if record["exception"] is not None:
            return True
        # "{message}\n{exception}" is the line loguru would have built (no exception: "").
        self._queue(record, escaped(record["message"]) + "\n", now)
        return False

    def emit(self, message: Any) -> None:
        """Loguru sink, only for lines with an exception (see ``before_line``): ``message`` is
        "<message>\\n<traceback>" with the record attached."""
        record = message.record
        text, head = str(message), record["message"]
        if text.startswith(head):  # one line for the message, a traceback that forges none
            text = escaped(head) + traceback_text(text[len(head):])
        self._queue(record, text, self._monotonic())

    def _queue(self, record: Record, text: str, now: float) -> None:
        """Queue the line's values; the line is built when its batch is written. A line at
        ``sync_level`` or above writes the batch in its call."""
        extra, level = record["extra"], record["level"]
        # Plain values only, not the record: a queued record would live through young GC
        # passes into older generations (in the bot: more full collections of a large heap).
        # The line's time is taken here, a few microseconds after loguru's record["time"]:
        # time.time() is cheap, turning loguru's aware datetime into an epoch is not.
        item = (now, time.time(), level.name, extra.get("symbol"), extra.get("account"), text)
        self._pending.append(item)  # a deque: append/popleft are atomic, no lock of ours
        if level.no >= self._sync_level:
            self.flush()  # waits for a flush in progress, then writes up to this line

    def flush(self) -> None:
        """Write every pending line now; returns when they are in the kernel (or lost)."""
        with self._write_lock:
            self._write_pending()

    def _write_due(self) -> None:
        """Wait for a batch being written, then write the pending lines only if they are still
        due: the threads that queued up behind a long batch (one descheduled between its
        writes) then add their lines to the next batch instead of writing a line or two each."""
        with self._write_lock:
            pending = self._pending
            try:
                oldest = pending[0][0]
            except IndexError:
                return
            if (self._monotonic() - oldest >= self._max_delay
                    or len(pending) >= self._max_pending):
                self._write_pending()

    def _write_pending(self) -> None:
        """flush() with the write lock held."""
        pending = self._pending
        try:
            # Set before the lines leave the deque, so before_line() never finds an old
            # line in neither place (it reads the deque first).
            self._writing_since = pending[0][0]
        except IndexError:
            return
        try:
            self._write_batch([pending.popleft() for _ in range(len(pending))])
        finally:
            self._writing_since = None

    def _write_batch(self, batch: list[Pending]) -> None:
        if self._main is None:
            return  # closed: a late line from a thread racing close()
        if batch[0][0] >= self._next_check:
            self._next_check = batch[0][0] + UNLINK_CHECK_S
            reopen_if_deleted(self._main, self._streams, self._faults)
        main: list[bytes] = []
        groups: dict[Key, list[bytes]] = {}
        line = self._line
        for item in batch:
            key, data = line(item)
            main.append(data)
            if key is not None:
                lines = groups.get(key)
                if lines is None:
                    groups[key] = [data]
                else:
                    lines.append(data)
        self._guarded(None, main)
        for key, lines in groups.items():
            self._guarded(key, lines)
        if self._console is not None:
            self._console.write(main)

    def _guarded(self, key: Key | None, lines: list[bytes]) -> None:
        """Lines that cannot be written (disk full, read-only dir) are lost, not the bot: the
        fault is reported once per file and reason, and the file is tried again next batch."""
        try:
            stream = self._main if key is None else self._stream(key)
            assert stream is not None  # flush() checked that the streams are open
            stream.write_lines(lines)
        except OSError as exc:
            self._faults.failed(self._key_path(key), exc, len(lines))
        else:
            if self._faults.failing:  # the path is only worked out while something fails
                self._faults.ok(self._key_path(key))

    def _key_path(self, key: Key | None) -> Path:
        return self.main_path if key is None else self.path_for(*key)

    def close(self) -> None:
        if self._budget is not None:
            self._budget.close()
        for handler_id in self.handler_ids:
            try:
                logger.remove(handler_id)
            except ValueError:
                pass  # already removed (e.g. by logger.remove() elsewhere)
        self.handler_ids.clear()
        if self._flusher is not None:
            self._flusher.stop()
        self.flush()
        with self._write_lock:
            for stream in self._streams.values():
                stream.close()
            self._streams.clear()
            if self._main is not None:
                self._main.close()
                self._main = None
        if self._console is not None:
            self._console.close()  # its queued lines, unless the console is stuck

    def __enter__(self) -> LogStreams:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def setup_logging(
    logs_dir: Path,
    *,
    level: str = "INFO",
    console: bool = True,
    rotate_bytes: int = 20 * 2**20,
    retention: int = 5,
    max_open_files: int | None = None,
    main_name: str = MAIN_LOG,
    stderr: TextIO | None = None,
    max_total_bytes: int = 0,
) -> LogStreams:
    """Replace loguru's default stderr handler with the file streams (and optional console).

    The console (``stderr``, default ``sys.stderr``, a terminal or not) gets the bot.log lines
    from the streams' batches: one formatting pass for both and no console write in the
    logging call (a loguru sink on a terminal wrote each line under loguru's handler lock)."""
    streams = LogStreams(
        logs_dir,
        rotate_bytes=rotate_bytes,
        retention=retention,
        max_open_files=max_open_files,
        main_name=main_name,
        console=(stderr or sys.stderr) if console else None,
        max_total_bytes=max_total_bytes,
    )
    try:
        logger.remove(0)  # loguru's default handler; absent if someone removed it already
    except ValueError:
        pass
    streams.attach(level)
    return streams
