"""The locks a bot takes on its data dir's files and its accounts' databases, so that no two
bots trade one account: the per-account lock file, each database and paper store file (also
one an absolute path points at), and each PostgreSQL-backed account's schema lock. Split out
of runtime/runner.py, which takes them all or none (`Bot._acquire_locks`).
"""

from __future__ import annotations

import os
from pathlib import Path

from config.settings import Settings
from runtime.workers_role import ProcessRole
from storage.opening import account_schema
from storage.pg_lock import SchemaLock

LOCKS_DIR = "locks"


def account_lock_path(data_dir: Path, account: str) -> Path:
    """The per-account lock: no two bots trade one account from one data dir."""
    return data_dir / LOCKS_DIR / f"{account}.lock"


def shared_files(
    settings: Settings, data_dir: Path, role: ProcessRole | None = None
) -> list[Path]:
    """The files a bot must own alone: each account's database and paper exchange store. They
    are locked themselves (not only the data dir), so a config whose absolute storage.path or
    paper.store points at a running bot's files is refused (issue 16 item 10)."""
    paths: dict[str, Path] = {}
    for account in settings.account_settings():
        if role is not None and not role.runs(account.bot.account):
            continue  # another worker's account: that worker locks its files
        # a PostgreSQL-backed account has no database file (its account lock still holds)
        files = [] if account.storage.url else [account.resolve(account.storage.path)]
        if account.exchange.id == "paper":
            store = Path(account.paper.store).expanduser()
            files.append(store if store.is_absolute() else data_dir / store)
        for path in files:
            paths.setdefault(os.path.realpath(path), path)  # one lock per file, however named
    return list(paths.values())


def schema_locks(settings: Settings, role: ProcessRole | None = None) -> list[SchemaLock]:
    """Each PostgreSQL-backed account's schema lock (storage/pg_lock.py): a bot with another
    data dir meets no file of this one. Not for cluster nodes (their leases own accounts)."""
    return [
        SchemaLock(a.storage.url, account_schema(a.bot.account), f"account {a.bot.account}",
                   lease_account=a.bot.account, lease_url=a.cluster.database_url)
        for a in settings.account_settings()
        if a.storage.url and (role is None or role.runs(a.bot.account))
    ]
