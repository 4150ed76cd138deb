"""The bot's files are private to its user: positions, orders, logs and status name the
account's trades. A umask of 077 makes every file and folder created from now on 0600/0700
(databases, WAL files, logs, status, caches, locks, also those SQLite and loguru create), and
``make_private`` tightens what an earlier version or another tool left readable."""

from __future__ import annotations

import os
import stat
from pathlib import Path

PRIVATE_UMASK = 0o077
DIR_MODE = 0o700
FILE_MODE = 0o600


def make_private(data_dir: Path) -> list[str]:
    """Set the umask, create ``data_dir`` 0700 and chmod what is in it (folders 0700, files
    0600, or 0700 for a file its owner could run). Returns one line per path that could not be
    changed (the bot still starts)."""
    os.umask(PRIVATE_UMASK)
    data_dir.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
    problems: list[str] = []
    # the folder itself, also behind a symlink (`data -> /mnt/big/bot`): os.walk below lists
    # the target's files, and the target stayed 0755 (found by review)
    _chmod(Path(os.path.realpath(data_dir)), DIR_MODE, problems)
    for root, dirs, files in os.walk(data_dir):
        for name in dirs:
            _chmod(Path(root) / name, DIR_MODE, problems)
        for name in files:  # the owner's execute bit stays (a hook script kept here)
            _chmod(Path(root) / name, FILE_MODE | stat.S_IXUSR, problems)
    return problems


SQLITE_SIBLINGS = ("", "-wal", "-shm", "-journal")


def make_files_private(paths: list[Path]) -> list[str]:
    """Files the bot keeps outside the data dir (an absolute `storage.path` or `paper.store`):
    each, and SQLite's -wal/-shm/-journal beside it, loses group and other bits (SQLite gives
    new -wal/-shm files the database's own mode, umask or not). Their folder is left as it is:
    it is the owner's, not the bot's. One line per path that could not be changed."""
    problems: list[str] = []
    for path in paths:
        for suffix in SQLITE_SIBLINGS:
            file = path.with_name(path.name + suffix)
            if file.is_file():
                _chmod(file, FILE_MODE | stat.S_IXUSR, problems)
    return problems


def _chmod(path: Path, mode: int, problems: list[str]) -> None:
    try:
        st = os.lstat(path)
        if stat.S_ISLNK(st.st_mode) or stat.S_IMODE(st.st_mode) & ~mode == 0:
            return  # a symlink's target is not ours to change; already private enough
        os.chmod(path, stat.S_IMODE(st.st_mode) & mode)
    except OSError as exc:
        problems.append(f"{path}: cannot make private ({exc.strerror or exc})")
