"""Crash-safe whole-file replacement: readers see the old content or the new, never a mix.

Write to a unique temp file in the target's directory, fsync it, ``os.replace`` it onto the
target, then fsync the directory so the rename itself survives a power loss.
"""

from __future__ import annotations

import errno
import itertools
import os
import re
import stat
import threading
from pathlib import Path

_counter = itertools.count()
_TMP_SUFFIX = ".tmp"


def _temp_path(path: Path) -> Path:
    # Unique per process, thread and call; hidden and recognisable as ours.
    unique = f"{os.getpid()}.{threading.get_ident()}.{next(_counter)}"
    return path.with_name(f".{path.name}.{unique}{_TMP_SUFFIX}")


def remove_leftover_temps(path: Path, unique: str = r"\d+\.\d+") -> list[Path]:
    """Delete the temp files of `path` that a process killed between its write and its rename
    left (`.<name>.<pid>.<thread>.<n>.tmp`, this module's pattern only; `unique`: what follows
    the pid in another writer's names, backtest/files.py), the ones of a process that is gone:
    a live one's may be about to be renamed. The files removed. Each writer calls it for its
    file when it starts (found by review: only the status file's were ever removed)."""
    path = Path(path)
    pattern = re.compile(
        rf"\.{re.escape(path.name)}\.(\d+)\.(?:{unique}){re.escape(_TMP_SUFFIX)}")
    removed: list[Path] = []
    try:
        names = os.listdir(path.parent)
    except OSError:
        return removed  # no folder yet (or unreadable): the write itself will say
    for name in names:
        match = pattern.fullmatch(name)
        if match is None or _process_alive(int(match.group(1))):
            continue
        try:
            os.unlink(path.parent / name)
        except OSError:
            continue  # gone already, or not ours to remove
        removed.append(path.parent / name)
    return removed


def _process_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except OSError as exc:
        return exc.errno == errno.EPERM  # another user's process: alive
    return True


def _target_mode(path: Path) -> int:
    """0600 for a new file (status and exports name positions and orders); an existing file
    keeps its owner's bits but loses any group and other bits an older version or another tool
    gave it (a status.json left 0644 stays world-readable otherwise)."""
    try:
        return stat.S_IMODE(os.stat(path).st_mode) & 0o700
    except FileNotFoundError:
        return 0o600


def fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Replace ``path`` with ``data`` atomically and durably (private: see `_target_mode`)."""
    path = Path(path)
    view = memoryview(data)
    tmp = _temp_path(path)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    fd = os.open(tmp, flags, 0o600)
    try:
        try:
            os.fchmod(fd, _target_mode(path))
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    fsync_dir(path.parent)


def atomic_write_text(
    path: str | os.PathLike[str], text: str, encoding: str = "utf-8"
) -> None:
    """``atomic_write_bytes`` for text (no newline translation)."""
    atomic_write_bytes(path, text.encode(encoding))
