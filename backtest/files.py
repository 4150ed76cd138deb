"""Writing the backtest's output files: private to the user (0600 in a 0700 folder) and atomic
(temp file, fsync, rename, fsync of the folder)."""

from __future__ import annotations

import os
from pathlib import Path

from storage.atomic_file import fsync_dir


def private_dir(path: Path) -> Path:
    """The output folder: made 0700 when this creates it; a folder that exists keeps its mode
    (`--out .` or `--out /tmp` turned the user's folder, or /tmp itself without its sticky bit,
    into 0700; found by review). The files written into it are 0600 either way."""
    if not path.is_dir():
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(path, 0o700)  # (mkdir's mode passes through the umask)
    return path


def write_private(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_CLOEXEC", 0), 0o600)
    try:
        try:
            os.fchmod(fd, 0o600)
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)
