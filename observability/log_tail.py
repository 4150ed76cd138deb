"""Reading log files: last N lines, and ``tail -F``-style following across rotations."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO, NamedTuple, cast

_BLOCK = 64 * 1024


class Position(NamedTuple):
    """Where a tail read up to: the file (device, inode) and the byte offset; ``ino`` -1: no
    file."""

    dev: int
    ino: int
    offset: int


_NO_FILE = Position(-1, -1, 0)


def _last_lines(path: Path, n: int) -> tuple[list[str], Position]:
    try:
        handle = path.open("rb")
    except FileNotFoundError:
        return [], _NO_FILE
    with handle:
        end = handle.seek(0, os.SEEK_END)
        stat = os.fstat(handle.fileno())
        # Blocks from the end, each read and its newlines counted once, joined once: growing
        # one bytes object and counting all of it per block was quadratic in what -n N spans.
        blocks: list[bytes] = []
        newlines, position = 0, end
        while position > 0 and newlines <= n:
            step = min(_BLOCK, position)
            position -= step
            handle.seek(position)
            block = handle.read(step)
            blocks.append(block)
            newlines += block.count(b"\n")
    blocks.reverse()
    data = b"".join(blocks)
    text = data.decode("utf-8", "replace")
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()  # the file ends with a newline
    if position > 0 and lines:
        lines.pop(0)  # possibly a partial first line
    return (lines[-n:] if n else []), Position(stat.st_dev, stat.st_ino, end)


def _rotated(path: Path) -> list[Path]:
    """The rotated files ``path.1``, ``path.2`` ... that exist, newest first. Listed from the
    folder, not counted up to the first one missing: a rotation renames ``path.<n>`` to
    ``path.<n+1>`` from the oldest down, so while it runs one name below the moved files is
    missing (found by review: a follower then skipped every file past that hole)."""
    prefix = f"{path.name}."
    try:
        names = [entry.name for entry in os.scandir(path.parent)]
    except OSError:  # the folder is gone or unreadable: no rotated file to read
        return []
    numbers = sorted(int(name[len(prefix):]) for name in names
                     if name.startswith(prefix) and name[len(prefix):].isdigit())
    return [path.with_name(f"{prefix}{n}") for n in numbers if n > 0]


def tail(path: Path, n: int = 50, *, include_rotated: bool = True) -> tuple[list[str], Position]:
    """The last ``n`` lines of ``path`` (no newlines; topped up from ``path.1``, ``path.2`` ...
    after rotations) and where they end: ``follow(path, after=...)`` goes on from there."""
    path = Path(path)
    lines, end = _last_lines(path, n)
    if include_rotated:  # found by review: only path.1 was read, -n N never reached older files
        for older in _rotated(path):
            if len(lines) >= n:
                break
            lines = _last_lines(older, n - len(lines))[0] + lines
    return lines, end


def tail_lines(path: Path, n: int = 50, *, include_rotated: bool = True) -> list[str]:
    """The last ``n`` lines of ``path`` (no newlines); tops up from the rotated files."""
    return tail(path, n, include_rotated=include_rotated)[0]


def _open(path: Path, at_end: bool) -> BinaryIO | None:
    try:
        handle = path.open("rb")
    except FileNotFoundError:
        return None
    if at_end:
        handle.seek(0, os.SEEK_END)
    return handle


def _replaced(handle: BinaryIO, path: Path) -> bool:
    """True when ``path`` no longer names the file we hold (rotated away or deleted)."""
    try:
        current = os.stat(path)
    except FileNotFoundError:
        return True
    mine = os.fstat(handle.fileno())
    return (current.st_ino, current.st_dev) != (mine.st_ino, mine.st_dev)


def _split(pending: bytes, chunk: bytes) -> tuple[list[str], bytes]:
    *complete, rest = (pending + chunk).split(b"\n")
    return [line.decode("utf-8", "replace") for line in complete], rest


def follow(
    path: Path,
    stop: threading.Event | None = None,
    *,
    poll_interval: float = 0.1,
    from_start: bool = False,
    after: Position | None = None,
) -> Iterator[str]:
    """Yield lines appended to ``path`` until ``stop`` is set, surviving rotation and deletion.

    The file is opened by this call (not lazily at the first ``next()``): reading starts at its
    end as of now, or at its beginning with ``from_start``, or where ``tail()`` stopped with
    ``after`` (also when the file was rotated since); a file that does not exist yet is read
    from its beginning once it appears. When the file is rotated, the rest of the old file is read
    first, then the new file from its beginning. ``stop=None`` follows forever.
    """
    path = Path(path)
    if after is not None:
        handle = _resume(path, after)
    else:
        handle = _open(path, at_end=not from_start)
    return _follow(path, handle, stop or threading.Event(), poll_interval)


def _resume(path: Path, after: Position) -> BinaryIO | None:
    """The file ``after`` points into, at its offset: ``path``, or ``path.<k>`` when it was
    rotated since (``_follow`` reads the rest of it, then the newer ones and ``path``); else
    ``path`` from its beginning (a file that was deleted or not there at the tail)."""
    for candidate in (path, *_rotated(path)):
        handle = _open(candidate, at_end=False)
        if handle is None:
            continue
        stat = os.fstat(handle.fileno())
        if (stat.st_dev, stat.st_ino) == (after.dev, after.ino):
            handle.seek(after.offset if stat.st_size >= after.offset else 0)  # 0: truncated
            return handle
        handle.close()
    return _open(path, at_end=False)


def _next_file(path: Path, handle: BinaryIO, stop: threading.Event) -> BinaryIO | None:
    """The file written after the one ``handle`` holds (read to its end, rotated away), from
    its beginning: ``path.<k-1>`` when it is now ``path.<k>`` (found by review: two rotations
    between two polls skipped the middle file's lines), else ``path`` (None: not there yet).
    A rotation running while it looks (its file not found, moved meanwhile, or a name missing
    between the two) is waited for: it looks again (found by review: it went on at ``path``,
    skipping the files between); a gap that stays (a file deleted by hand) is passed over."""
    mine = os.fstat(handle.fileno())
    handle.close()
    for look in range(_LOOKS):
        if look:
            stop.wait(_LOOK_AGAIN_S)
        found = _successor(path, mine, strict=look < _LOOKS - 1)
        if found is not _AGAIN:
            return cast("BinaryIO | None", found)
    return _open(path, at_end=False)  # gone (past the retention): read what is at path


_LOOKS = 10
_LOOK_AGAIN_S = 0.005
"""A rotation renames a handful of files: a look that met one running looks again after this."""
_AGAIN = object()


def _successor(path: Path, mine: os.stat_result, strict: bool) -> object:
    """``_next_file``'s one look: the file after ``mine`` opened (None: ``path`` is not there
    yet), or ``_AGAIN``: ``mine`` not found, moved meanwhile, or (``strict``) not right after
    the file found newer. A rotation moves the older files first, so ``mine`` still in its
    place after the open means that no rotation moved the file opened since it was looked at."""
    newer = path
    for older in _rotated(path):
        try:
            here = os.stat(older)
        except FileNotFoundError:
            continue  # moved on by a rotation running now
        if not _same(here, mine):
            newer = older
            continue
        index = int(older.name.rsplit(".", 1)[1])
        if strict and newer != (path.with_name(f"{path.name}.{index - 1}") if index > 1 else path):
            return _AGAIN
        found = _open(newer, at_end=False)
        try:
            if _same(os.stat(older), mine) and (found is not None or newer == path):
                return found
        except FileNotFoundError:
            pass
        if found is not None:
            found.close()
        return _AGAIN
    return _AGAIN


def _same(a: os.stat_result, b: os.stat_result) -> bool:
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)


def _follow(
    path: Path, handle: BinaryIO | None, stop: threading.Event, poll_interval: float
) -> Iterator[str]:
    pending = b""
    try:
        while not stop.is_set():
            if handle is None:
                handle = _open(path, at_end=False)
                if handle is None:
                    stop.wait(poll_interval)
                    continue
            chunk = handle.read(_BLOCK)
            if chunk:
                lines, pending = _split(pending, chunk)
                yield from lines
                continue
            if _replaced(handle, path):
                lines, pending = _split(pending, handle.read())
                yield from lines
                if pending:
                    yield pending.decode("utf-8", "replace")
                    pending = b""
                handle = _next_file(path, handle, stop)
                continue
            if os.fstat(handle.fileno()).st_size < handle.tell():
                handle.seek(0)  # truncated in place
                continue
            stop.wait(poll_interval)
    finally:
        if handle is not None:
            handle.close()
