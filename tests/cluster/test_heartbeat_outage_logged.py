"""The cluster database down: the heartbeat's failures are said once, reminded every 5
minutes, and their end is said with how long they lasted (cluster/beat_outage.py). Found by
review: `cluster: heartbeat failed` was logged at every beat for as long as the outage lasted.

A real ClusterNode on real SQLite files: the registry's database is made unwritable by another
connection holding an EXCLUSIVE transaction (each beat's write then fails "database is
locked"), then given back."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import peewee
from loguru import logger

from cluster import LeaseStore, open_database
from cluster.beat_outage import BEAT_FAILING_REMINDER_S, BeatOutage
from cluster.lease import LeaseStoreUnavailable
from cluster.node import ClusterNode
from storage.cluster_registry import ClusterRegistry
from tests.cluster.leases_support import FAST, start_idle
from tests.cluster.test_heartbeat_interval import _announce
from tests.support.waiting import wait_until


class _Counted(ClusterRegistry):
    """The real registry, counting the heartbeats it was asked for and those that went in."""

    def __init__(self, db: peewee.Database) -> None:
        super().__init__(db)
        self.asked = 0
        self.written = 0

    def heartbeat(self, *args: Any, **kwargs: Any) -> None:
        self.asked += 1
        super().heartbeat(*args, **kwargs)
        self.written += 1


def _capture() -> tuple[list[str], int]:
    lines: list[str] = []
    return lines, logger.add(
        lambda m: lines.append(f"{m.record['level'].name} {m.record['message']}"),
        level="INFO", filter=lambda r: "heartbeat" in r["message"])


def test_a_database_outage_is_said_once_and_its_end_with_its_length(tmp_path: Path) -> None:
    store = LeaseStore(open_database(str(tmp_path / "leases.sqlite")), FAST)
    store.create_table()
    path = tmp_path / "registry.sqlite"
    # the database as open_database opens it, with a short busy timeout: a failed beat is quick
    registry = _Counted(peewee.SqliteDatabase(
        str(path), pragmas={"journal_mode": "wal", "busy_timeout": 50}))
    registry.create_tables()
    lines, sink = _capture()
    node = ClusterNode(node_id="n1", accounts=["hb2"], store=store, registry=registry,
                       settings=FAST, start_account=start_idle, logger=logger,
                       announce=_announce, balance_interval_s=0.2).start()
    holder = sqlite3.connect(path, isolation_level=None, timeout=5)
    try:
        holder.execute("BEGIN EXCLUSIVE")  # the database is down for the node's writes
        asked = registry.asked
        wait_until(lambda: registry.asked >= asked + 6, timeout=30,
                   message="beats while the database is down")
        holder.execute("ROLLBACK")  # back
        written = registry.written
        wait_until(lambda: registry.written >= written + 2, timeout=30,
                   message="beats going in again")
    finally:
        holder.close()
        node.stop()
        logger.remove(sink)
    assert len(lines) == 2, lines
    assert lines[0] == ("WARNING cluster: heartbeat failed: LeaseStoreUnavailable: cluster "
                        "database: database is locked")
    assert lines[1].startswith("INFO cluster: heartbeats answer again ("), lines
    failed = int(lines[1].split("(")[1].split()[0])
    assert failed >= 5, lines


def test_a_long_outage_is_reminded_every_five_minutes() -> None:
    lines, sink = _capture()
    now = [1000.0]
    outage = BeatOutage(logger, clock=lambda: now[0])
    down = LeaseStoreUnavailable("cluster database: connection refused")
    try:
        for _ in range(int(2 * BEAT_FAILING_REMINDER_S / 2) + 1):  # 10 minutes of beats 2 s apart
            outage.failed(down)
            now[0] += 2.0
        outage.answered()
    finally:
        logger.remove(sink)
    assert lines == [
        "WARNING cluster: heartbeat failed: LeaseStoreUnavailable: cluster database: "
        "connection refused",
        "WARNING cluster: heartbeats still failing (151 in a row over 300 s): "
        "LeaseStoreUnavailable: cluster database: connection refused",
        "WARNING cluster: heartbeats still failing (301 in a row over 600 s): "
        "LeaseStoreUnavailable: cluster database: connection refused",
        "INFO cluster: heartbeats answer again (301 failed over 602 s)",
    ]


class _FailsOnce(_Counted):
    """The real registry, whose second heartbeat raises an error no one foresaw."""

    def heartbeat(self, *args: Any, **kwargs: Any) -> None:
        if self.asked == 1:
            self.asked += 1
            raise RuntimeError("unforeseen")
        super().heartbeat(*args, **kwargs)


def test_an_unforeseen_error_is_named_once_by_its_type(tmp_path: Path) -> None:
    """Found by review: the line read 'heartbeat failed (RuntimeError: RuntimeError:
    unforeseen)', the type said twice (describe() already names it)."""
    store = LeaseStore(open_database(str(tmp_path / "leases.sqlite")), FAST)
    store.create_table()
    registry = _FailsOnce(open_database(str(tmp_path / "registry.sqlite")))
    registry.create_tables()
    lines, sink = _capture()
    node = ClusterNode(node_id="n2", accounts=["hb3"], store=store, registry=registry,
                       settings=FAST, start_account=start_idle, logger=logger,
                       announce=_announce, balance_interval_s=0.2).start()
    try:
        wait_until(lambda: registry.written >= 3, timeout=30, message="beats after the error")
    finally:
        node.stop()
        logger.remove(sink)
    assert lines == ["ERROR cluster: heartbeat failed (RuntimeError: unforeseen); tried again "
                     "every beat, said at most once a minute"], lines
