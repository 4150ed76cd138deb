"""A database written by an older version of the bot, opened by this one (INCIDENTS rule 7: an
upgrade in place, `git pull` and start again on the same data dir).

The file is built from legacy/schema2_000185b0.sql: what commit 000185b0 (schema 2) left after a
paper run killed with four positions open, plus two signals its own `bot.py signal` queued while
it was stopped. Real SQLite, the real migrations and restore, the real control applier; the
supervisor stand-in is injected through the constructor."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from loguru import logger

from runtime.controls import ControlApplier
from storage import control
from storage.models import SCHEMA_VERSION, ControlRow
from storage.repository import Repository
from supervision.child import ChildState
from trading.model import Phase, TrailingState

LEGACY = Path(__file__).parent / "legacy" / "schema2_000185b0.sql"
ADA, BNB = "ADA/USDT:USDT", "BNB/USDT:USDT"


def legacy_database(tmp_path: Path) -> Path:
    path = tmp_path / "bot.sqlite"
    conn = sqlite3.connect(path)
    conn.executescript(LEGACY.read_text())
    conn.close()
    return path


@dataclass
class Child:
    state: ChildState = ChildState.RUNNING


@dataclass
class Sup:
    children: dict[str, Child]
    delivered: list[tuple[str, Any]] = field(default_factory=list)

    def deliver_signal(self, symbol: str, signal: Any) -> bool:
        self.delivered.append((symbol, signal))
        return True


def queued_at(repo: Repository) -> dict[int, float]:
    return repo.read(lambda: {r.id: r.created_at for r in ControlRow.select()})


def results(repo: Repository) -> dict[int, str | None]:
    return repo.read(lambda: {r.id: r.result for r in ControlRow.select()})


def test_the_legacy_database_migrates_and_restores_every_position_with_its_stop(tmp_path):
    repo = Repository(legacy_database(tmp_path))
    try:
        assert repo.read(lambda: control.Meta.get(control.Meta.key == "schema_version").value) \
            == str(SCHEMA_VERSION)
        xrp = repo.load("XRP/USDT:USDT")
        assert xrp.phase is Phase.OPEN and xrp.position is not None
        assert xrp.stop_price == Decimal("0.6032")
        assert xrp.trailing is not None and xrp.trailing.state is TrailingState.ACTIVE
        assert xrp.trailing.trigger_price == Decimal("0.6032")
        assert [o.client_order_id for o in xrp.orders] == ["main-c077-XRPc4d-3s"]
        held = {s: repo.load(s).position for s in
                ("LINK/USDT:USDT", "BNB/USDT:USDT", "DOGE/USDT:USDT")}
        assert all(p is not None for p in held.values())
    finally:
        repo.close()


def test_a_signal_an_older_cli_queued_a_day_ago_is_dropped_not_traded(tmp_path):
    """That CLI wrote no `expires_at` (it came with d7c0bed1), and the applier read a row
    without one as never expiring: a signal queued before the upgrade, while the bot was
    stopped, opened a position at the first start, however much later (seen for real: 000185b0's
    `bot.py signal ADA long --size 50` queued, the row 24 h old, this bot started on the data
    dir: EntryRequested, PositionOpened). README: a manual signal expires 300 s after it is
    queued. The row's own created_at is when it was queued."""
    repo = Repository(legacy_database(tmp_path))
    sup = Sup({ADA: Child(), BNB: Child()})
    try:
        at = queued_at(repo)
        a_day_later = max(at.values()) + 86_400
        ControlApplier(repo=repo, sup=sup, log=logger, wall=lambda: a_day_later).apply()
        assert sup.delivered == []
        done = results(repo)
        assert done[1] == f"expired: not delivered (expires_at {at[1] + 300:.3f})"
        assert done[2] == f"expired: not delivered (expires_at {at[2] + 300:.3f})"
    finally:
        repo.close()


def test_a_signal_an_older_cli_queued_just_now_is_delivered_with_its_expiry(tmp_path):
    repo = Repository(legacy_database(tmp_path))
    sup = Sup({ADA: Child(), BNB: Child()})
    try:
        at = queued_at(repo)
        soon = max(at.values()) + 10
        ControlApplier(repo=repo, sup=sup, log=logger, wall=lambda: soon).apply()
        assert results(repo) == {1: "delivered", 2: "delivered"}
        (ada, entry), (bnb, exit_) = sup.delivered
        assert (ada, entry.side.value, entry.size_usdt) == (ADA, "long", Decimal("50"))
        assert (bnb, exit_.side) == (BNB, None)
        # the actor drops it too if it waits past the row's expiry behind other work
        assert entry.expires_at == at[1] + 300 and exit_.expires_at == at[2] + 300
    finally:
        repo.close()


def test_resume_of_a_symbol_not_stopped_is_refused_before_the_first_start_after_the_upgrade(
        tmp_path):
    """`git pull`, then `bot.py resume` before the upgraded bot has started (and migrated): the
    check read the file with this version's actor_state columns (fees_owed came with schema 4),
    the read failed, and "cannot read it here: the bot decides" queued the resume of a symbol
    that is not stopped (exit 0, 'queued'), which README says is refused, nothing changed. Seen
    for real on 000185b0's data dir; schema 4 and 6 dirs were refused as documented."""
    from runtime.emergency import OWED

    path = legacy_database(tmp_path)
    xrp = "XRP/USDT:USDT"
    assert control.not_stopped(xrp, OWED + xrp, db_path=path) == (
        f"resume {xrp}: not stopped (not quarantined, no open escalation, no emergency close "
        "owed); nothing queued")
    conn = sqlite3.connect(path)  # an escalation as 000185b0 committed one (commit_sql.py)
    conn.execute("INSERT INTO escalations (symbol, reason, attempts, last_error, created_at, "
                 "resolved_at) VALUES (?, 'close_failed', 5, 'boom', 1796555300.0, NULL)", (xrp,))
    conn.commit()
    conn.close()
    assert control.not_stopped(xrp, OWED + xrp, db_path=path) is None  # stopped: queued
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone() \
        == ("2",)  # the CLI's check migrates nothing
    conn.close()
