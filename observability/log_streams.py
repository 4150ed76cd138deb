"""Per-symbol log files behind ONE loguru sink.

Every line goes to ``<logs_dir>/bot.log``; lines logged through ``logger.bind(symbol=...)`` also go
to ``<logs_dir>/<safe name>.log``. Design constraints:

* no in-process queue and no user-space buffer: each line is one ``os.write`` on an ``O_APPEND``
  descriptor, so once a logging call returns, the line is in the kernel and survives ``kill -9``;
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

import os
import re
import resource
import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from loguru import logger

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

MAIN_LOG = "bot.log"
_TIME = "{time:YYYY-MM-DDTHH:mm:ss.SSS!UTC}Z"
LINE_FORMAT = _TIME + " | {level} | {extra[symbol]} | {message}\n{exception}"
_UNBOUND_FORMAT = _TIME + " | {level} | - | {message}\n{exception}"
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")
_OPEN_FLAGS = os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_CLOEXEC", 0)


def safe_name(symbol: str) -> str:
    """File-name-safe form of a symbol: ``BTC/USDT:USDT`` -> ``BTC_USDT_USDT``."""
    name = _UNSAFE.sub("_", str(symbol))
    if name.strip(".") == "" or name.lower() == MAIN_LOG[:-4]:
        name = "_" + name  # never "", ".", ".." or a clash with bot.log
    return name


def symbol_log_path(logs_dir: Path, symbol: str | None, account: str | None = None) -> Path:
    """``logs/<symbol>.log``; with an account ``logs/<account>/<symbol>.log`` (``symbol`` None:
    that account's lines that name no symbol, ``logs/<account>/bot.log``)."""
    if account is None:
        return Path(logs_dir) / f"{safe_name(str(symbol))}.log"
    name = MAIN_LOG if symbol is None else f"{safe_name(symbol)}.log"
    return Path(logs_dir) / safe_name(account) / name


_ACCOUNT_FORMAT = _TIME + " | {level} | {extra[account]} {extra[symbol]} | {message}\n{exception}"
_ACCOUNT_ONLY_FORMAT = _TIME + " | {level} | {extra[account]} - | {message}\n{exception}"


def _format(record: Record) -> str:
    extra = record["extra"]
    if "account" in extra:
        return _ACCOUNT_FORMAT if "symbol" in extra else _ACCOUNT_ONLY_FORMAT
    return LINE_FORMAT if "symbol" in extra else _UNBOUND_FORMAT


def _file_format(record: Record) -> str:
    """The file sink builds the line prefix itself (cheaper than loguru's time formatter)."""
    return "{message}\n{exception}"


class _UtcClock:
    """``2026-11-21T07:03:49.123Z`` from an epoch, caching the formatted second."""

    def __init__(self) -> None:
        self._second = -1
        self._text = ""

    def format(self, epoch: float) -> str:
        millis = int(epoch * 1000)
        second, ms = divmod(millis, 1000)
        if second != self._second:
            self._text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
            self._second = second
        return f"{self._text}.{ms:03d}Z"


def default_max_open_files() -> int:
    """Half the soft descriptor limit (the rest is for sockets, SQLite...), within 64..8192."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return 8192
    return max(64, min(8192, soft // 2))


Write = Callable[[int, memoryview], int]


class _AppendFile:
    """An O_APPEND descriptor with an in-memory size counter and size-based rotation."""

    def __init__(
        self, path: Path, rotate_bytes: int, retention: int, write: Write = os.write
    ) -> None:
        self.path = path
        self._rotate_bytes = rotate_bytes
        self._retention = retention
        self._os_write = write
        self._fd = os.open(path, _OPEN_FLAGS, 0o600)
        self._size = os.fstat(self._fd).st_size

    def write(self, data: bytes) -> None:
        if self._fd < 0:
            self._reopen()  # a rotation that failed half-way (e.g. disk full) left it closed
        if self._size and self._size + len(data) > self._rotate_bytes:
            self._rotate()
        view = memoryview(data)
        while view:
            written = self._os_write(self._fd, view)
            view = view[written:]
        self._size += len(data)

    def _rotate(self) -> None:
        os.close(self._fd)
        self._fd = -1
        for index in range(self._retention - 1, 0, -1):
            older = self.path.with_name(f"{self.path.name}.{index}")
            if older.exists():
                os.replace(older, self.path.with_name(f"{self.path.name}.{index + 1}"))
        if self.path.exists():
            os.replace(self.path, self.path.with_name(f"{self.path.name}.1"))
        self._reopen()

    def _reopen(self) -> None:
        self._fd = os.open(self.path, _OPEN_FLAGS, 0o600)
        self._size = os.fstat(self._fd).st_size

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


class LogStreams:
    """The sink behind ``setup_logging``; ``close()`` detaches it and closes every file."""

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
    ) -> None:
        max_open_files = max_open_files or default_max_open_files()
        self._write = write
        self._faults = WriteFaults(report or _to_stderr)
        if rotate_bytes < 1 or retention < 1 or max_open_files < 1:
            raise ValueError("rotate_bytes, retention and max_open_files must be >= 1")
        self.logs_dir = Path(logs_dir)
        self.logs_dir.mkdir(parents=True, exist_ok=True)
        self._main_name = main_name
        """A worker process's whole stream (runtime/workers_role.py): one writer per file."""
        self._rotate_bytes = rotate_bytes
        self._retention = retention
        self._max_open = max_open_files
        self._lock = threading.Lock()
        self._clock = _UtcClock()
        self._main: _AppendFile | None = _AppendFile(self.main_path, rotate_bytes, retention, write)
        # symbol -> open file, least recently used first (bounded to stay under the fd limit).
        self._streams: OrderedDict[Any, _AppendFile] = OrderedDict()
        self.handler_ids: list[int] = []

    @property
    def main_path(self) -> Path:
        return self.logs_dir / self._main_name

    def path_for(self, symbol: str | None, account: str | None = None) -> Path:
        return symbol_log_path(self.logs_dir, symbol, account)

    def open_files(self) -> int:
        return len(self._streams) + (1 if self._main else 0)

    def _stream(self, symbol: str | None, account: str | None = None) -> _AppendFile:
        key = symbol if account is None else (account, symbol)
        stream = self._streams.get(key)
        if stream is not None:
            self._streams.move_to_end(key)
            return stream
        while len(self._streams) >= self._max_open:
            self._streams.popitem(last=False)[1].close()
        path = self.path_for(symbol, account)
        if account is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        stream = _AppendFile(path, self._rotate_bytes, self._retention, self._write)
        self._streams[key] = stream
        return stream

    def emit(self, message: Any) -> None:
        """Loguru sink: ``message`` is "<message>\\n<exception>" with the record attached."""
        record = message.record
        symbol = record["extra"].get("symbol")
        account = record["extra"].get("account")
        with self._lock:
            if self._main is None:
                return  # closed: a late line from a thread racing close()
            stamp = self._clock.format(record["time"].timestamp())
            tag = "-" if symbol is None else symbol
            if account is not None:
                tag = f"{account} {tag}"
            line = f"{stamp} | {record['level'].name} | {tag} | {message}"
            data = line.encode("utf-8", "backslashreplace")
            self._guarded(None, lambda: self._main.write(data))  # type: ignore[union-attr]
            if account is not None:
                key: tuple[str | None, str | None] = (
                    None if symbol is None else str(symbol),
                    str(account),
                )
            elif symbol is not None:
                key = (str(symbol), None)
            else:
                return
            self._guarded(key, lambda: self._stream(*key).write(data))

    def _guarded(
        self, key: tuple[str | None, str | None] | None, write: Callable[[], None]
    ) -> None:
        """A line that cannot be written (disk full, read-only dir) is lost, not the bot: the
        fault is reported once per file and reason, and the file is tried again next line."""
        try:
            write()
        except OSError as exc:
            self._faults.failed(self._key_path(key), exc)
        else:
            if self._faults.failing:  # the path is only worked out while something fails
                self._faults.ok(self._key_path(key))

    def _key_path(self, key: tuple[str | None, str | None] | None) -> Path:
        return self.main_path if key is None else self.path_for(*key)

    def close(self) -> None:
        for handler_id in self.handler_ids:
            try:
                logger.remove(handler_id)
            except ValueError:
                pass  # already removed (e.g. by logger.remove() elsewhere)
        self.handler_ids.clear()
        with self._lock:
            for stream in self._streams.values():
                stream.close()
            self._streams.clear()
            if self._main is not None:
                self._main.close()
                self._main = None

    def __enter__(self) -> LogStreams:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _to_stderr(text: str) -> None:
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

    def failed(self, path: Path, exc: OSError) -> None:
        reason = exc.strerror or str(exc)
        known = self._failing.get(path)
        if known is None or known[0] != reason:
            self._report(
                f"log file {path} cannot be written ({reason}); its lines are lost "
                "until it can, the bot keeps trading"
            )
        self._failing[path] = (reason, (known[1] if known else 0) + 1)

    @property
    def failing(self) -> bool:
        return bool(self._failing)

    def ok(self, path: Path) -> None:
        if path in self._failing:
            _, lost = self._failing.pop(path)
            self._report(f"log file {path} is written again ({lost} lines were lost)")


def setup_logging(
    logs_dir: Path,
    *,
    level: str = "INFO",
    console: bool = True,
    rotate_bytes: int = 20 * 2**20,
    retention: int = 5,
    max_open_files: int | None = None,
    main_name: str = MAIN_LOG,
) -> LogStreams:
    """Replace loguru's default stderr handler with the file streams (and optional console)."""
    streams = LogStreams(
        logs_dir,
        rotate_bytes=rotate_bytes,
        retention=retention,
        max_open_files=max_open_files,
        main_name=main_name,
    )
    try:
        logger.remove(0)  # loguru's default handler; absent if someone removed it already
    except ValueError:
        pass
    options: dict[str, Any] = {"level": level.upper(), "enqueue": False}
    options.update(backtrace=False, diagnose=False)  # diagnose would print variable values
    streams.handler_ids.append(logger.add(streams.emit, format=_file_format, **options))
    if console:
        streams.handler_ids.append(logger.add(sys.stderr, format=_format, **options))
    return streams
