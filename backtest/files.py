"""Writing the backtest's output files: private to the user (0600 in a 0700 folder) and atomic
(temp file, fsync, rename, fsync of the folder)."""

from __future__ import annotations

import fcntl
import os
import secrets
import shutil
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from storage.atomic_file import fsync_dir, remove_leftover_temps

TEMP_UNIQUE = r"[0-9a-f]{16}"
"""What follows the pid in `_replace_private`'s temp names (`secrets.token_hex(8)`)."""


def private_dir(path: Path) -> Path:
    """The output folder: made 0700 when this creates it; a folder that exists keeps its mode
    (`--out .` or `--out /tmp` turned the user's folder, or /tmp itself without its sticky bit,
    into 0700; found by review). The files written into it are 0600 either way."""
    if not path.is_dir():
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(path, 0o700)  # (mkdir's mode passes through the umask)
    return path


class FolderBusy(OSError):
    """Another backtest holds the report folder; the message is the one line users see."""


@contextmanager
def held_alone(path: Path, flags: int, busy: Exception) -> Iterator[None]:
    """The block runs while this process alone holds the kernel's lock (flock) on `path`,
    opened with `flags`; `busy` is raised at once when another process holds it. Released when
    the block ends, or with the process (and its workers, which inherit it)."""
    fd = os.open(path, flags | os.O_CLOEXEC, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise busy from None
        yield
    finally:
        os.close(fd)


@contextmanager
def only_writer(out: Path) -> Iterator[None]:
    """One backtest or sweep at a time writes its reports into `out` (found by review: two
    runs into one folder, the default `<data dir>/backtest` from two terminals, left one run's
    report.txt beside the other's report.json and charts, and a sweep's start removed the run
    folders of a sweep still running there). The lock is on the folder itself: no file is
    added to it."""
    busy = FolderBusy(f"--out {out}: another backtest is writing its reports there; wait for "
                      "it to end (or stop it), or pick another --out")
    with held_alone(out, os.O_RDONLY | os.O_DIRECTORY, busy):
        yield


def write_private(path: Path, data: bytes) -> None:
    def write(fd: int) -> None:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]

    _replace_private(path, write)


def copy_private(source: Path, target: Path) -> None:
    """`source`'s bytes as `target`, as `write_private` writes (streamed, not read whole)."""
    with source.open("rb") as src:
        def copy(fd: int) -> None:
            with os.fdopen(os.dup(fd), "wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)

        _replace_private(target, copy)


def remove_leftovers(folder: Path, names: Iterable[str]) -> None:
    """The temp files of `names` in `folder` that a run killed between a write and its rename
    left (`_replace_private`'s pattern, a gone process's only), removed by the next run that
    writes there (found by review: they piled up in `--out` with every killed run)."""
    for name in names:
        remove_leftover_temps(folder / name, TEMP_UNIQUE)


def _replace_private(path: Path, write: Callable[[int], None]) -> None:
    """`write(fd)` fills a 0600 temp file beside `path`, which is fsynced and renamed onto
    `path`, then the folder is fsynced. The temp file is made new (O_EXCL: never opened
    through a link) under a name no one can guess: in a folder others may write (`--out
    /tmp/r`) a link planted at `.<name>.<pid>.tmp` was followed, and the file it named
    overwritten with the report (found by review)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(8)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o600)
    try:
        try:
            os.fchmod(fd, 0o600)
            write(fd)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)
