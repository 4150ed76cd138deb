"""Storage contract, concurrency: two repositories on one store (a restarted or zombie process
and its successor), the incarnation fence, the commit guard, many writer threads and accounts
kept apart, on SQLite and on PostgreSQL."""

from __future__ import annotations

import threading
from dataclasses import replace
from decimal import Decimal as D
from typing import Any

import pytest

from storage import queries
from storage.grid_store import HEDGE_GRID
from storage.repository import Fenced, Repository
from tests.storage.contract.backends import Backend
from tests.storage.contract.test_state import SYM, grid_with_both_legs, opened
from tests.support.waiting import wait_until
from tests.trading.conftest import make_rules
from trading.commands import JournalEntry
from trading.decide import SymbolCore
from trading.decision import Decision
from trading.events import PriceTicked
from trading.grid.model import GridState
from trading.model import Phase, SymbolState


def note(phase: Phase = Phase.FLAT, seq: int = 0) -> Decision:
    state = SymbolState(symbol=SYM, phase=phase, order_seq=seq)
    return Decision(state=state, journal=(JournalEntry(type="Note", data={"seq": seq}),))


def commit(repo: Repository, inc: int, seq: int) -> None:
    repo.commit(SYM, inc, SymbolState(symbol=SYM), note(seq=seq), correlation_id=f"n{seq}",
                created_at=float(seq))


def test_the_zombie_incarnation_cannot_commit(backend: Backend):
    zombie, successor = backend.open(), backend.open()
    old = zombie.claim(SYM)
    commit(zombie, old, 1)
    new = successor.claim(SYM)
    assert new == old + 1
    with pytest.raises(Fenced):
        commit(zombie, old, 2)
    commit(successor, new, 3)
    notes = [e["data"]["seq"] for e in successor.read(queries.events, SYM, "Note")]
    assert notes == [1, 3]  # the fenced commit left nothing, not even its journal line
    assert successor.read(queries.actor_rows)[SYM].order_seq == 3


def test_the_zombie_incarnation_of_a_hedge_grid_cannot_commit(backend: Backend):
    """The grid store's own fence (storage/grid_store.py FENCE): a replaced incarnation's commit
    writes neither the state document, nor a position row, nor its journal line."""
    zombie, successor = backend.open(), backend.open()
    book = grid_with_both_legs(zombie)
    new = successor.claim(SYM)
    stored: GridState = book.state
    legs = {p.position_id: (p.status, p.contracts) for p in successor.read(queries.positions, SYM)}
    late = replace(stored, order_seq=stored.order_seq + 5, entries_blocked=True,
                   long=replace(stored.long, contracts=stored.long.contracts * 2))
    with pytest.raises(Fenced):
        zombie.commit(SYM, new - 1, stored,
                      Decision(state=late, journal=(JournalEntry(type="Note", data={"seq": 1}),)),
                      correlation_id="z", created_at=book.now, store=HEDGE_GRID)
    assert successor.load(SYM, store=HEDGE_GRID) == stored
    assert {p.position_id: (p.status, p.contracts)
            for p in successor.read(queries.positions, SYM)} == legs
    assert successor.read(queries.events, SYM, "Note") == []


def test_a_commit_past_its_fence_finishes_before_a_takeover(backend: Backend):
    """The fence check and the commit are one transaction: a claim from another repository
    that arrives while the commit is open waits for it, and only later commits are fenced."""
    armed, inside, release = threading.Event(), threading.Event(), threading.Event()

    def hold(db: Any) -> None:  # the commit guard: runs after the fence, inside the transaction
        assert db.in_transaction()
        if armed.is_set() and not inside.is_set():
            inside.set()
            assert release.wait(30)

    zombie = backend.open(commit_guard=hold)
    successor = backend.open()
    old = zombie.claim(SYM)
    armed.set()  # the guard holds the next unit (this commit) open
    commit_thread = threading.Thread(target=commit, args=(zombie, old, 1))
    commit_thread.start()
    wait_until(inside.is_set, timeout=10, message="commit inside its transaction")
    claimed: list[int] = []
    claim_thread = threading.Thread(target=lambda: claimed.append(successor.claim(SYM)))
    claim_thread.start()
    if backend.kind == "postgresql":  # the claim is seen waiting on the committing row's lock
        wait_until(lambda: backend.sql(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
            "AND datname = current_database()")[0][0] == 1, timeout=10, message="claim waiting")
    assert claimed == []
    release.set()
    commit_thread.join(30)
    claim_thread.join(30)
    assert claimed == [old + 1]
    with pytest.raises(Fenced):
        commit(zombie, old, 2)
    assert [e["data"]["seq"] for e in zombie.read(queries.events, SYM, "Note")] == [1]


def test_commit_guard_runs_in_the_transaction_and_can_abort_it(backend: Backend):
    seen: list[str] = []
    refuse = threading.Event()

    def guard(db: Any) -> None:
        # the transaction's own uncommitted row: the guard runs on the commit's connection
        row = db.execute_sql(f"SELECT order_seq FROM actor_state WHERE symbol = {db.param}",
                             (SYM,)).fetchone()
        seen.append(str(row[0]))
        if refuse.is_set():
            raise PermissionError("lease lost")

    repo = backend.open(commit_guard=guard)
    inc = repo.claim(SYM)
    commit(repo, inc, 7)
    assert seen[-1] == "7"
    refuse.set()
    with pytest.raises(PermissionError, match="lease lost"):
        commit(repo, inc, 8)
    with pytest.raises(PermissionError):
        repo.record(SYM, "Note", {"seq": 9}, correlation_id="r")
    assert [e["data"]["seq"] for e in repo.read(queries.events, SYM, "Note")] == [7]
    assert repo.read(queries.actor_rows)[SYM].order_seq == 7
    calls = len(seen)
    other = backend.open()
    other.claim(SYM)
    with pytest.raises(Fenced):
        commit(repo, inc, 10)
    assert len(seen) == calls  # a fenced commit never reaches the guard


def test_many_writer_threads_on_two_repositories(backend: Backend):
    a, b = backend.open(), backend.open()
    symbols = [f"S{i}/USDT:USDT" for i in range(40)]
    errors: list[BaseException] = []

    def actor(repo: Repository, sym: str) -> None:
        try:
            inc = repo.claim(sym)
            core, state = SymbolCore(make_rules()), SymbolState(symbol=sym)
            for k in range(3):
                d = core.decide(state, PriceTicked(price=D(100 + k)), 1000.0 + k)
                repo.commit(sym, inc, state, d, correlation_id="x", created_at=1000.0 + k)
                repo.record(sym, "Tick", {"k": k}, correlation_id=f"{sym}-{k}")
                state = d.state
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=actor, args=(a if i % 2 else b, s))
               for i, s in enumerate(symbols)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert len(a.read(queries.events, None, "Tick")) == 3 * len(symbols)
    assert a.writer.commits + b.writer.commits < a.writer.units + b.writer.units  # batched


def test_accounts_keep_their_rows_apart(backend: Backend):
    alpha, beta = backend.open("alpha"), backend.open("beta")
    _, sc = opened(alpha)
    assert beta.claim(SYM) == 1 and alpha.claim(SYM) == 2
    beta.set_meta("kill_switch", "1")
    assert beta.load(SYM) == SymbolState(symbol=SYM)
    assert alpha.load(SYM).position == sc.state.position
    assert beta.read(queries.events, SYM) == [] and beta.read(queries.fills) == []
    assert alpha.get_meta("kill_switch") is None and beta.get_meta("kill_switch") == "1"
    if backend.kind == "postgresql":
        schemas = {r[0] for r in backend.sql(
            "SELECT table_schema FROM information_schema.tables WHERE table_name = 'fills'")}
        assert schemas == {"bot_alpha", "bot_beta"}  # nothing in public
