"""The repository: every write of the bot goes through here, as one transaction per decision.

A decision's new state, its journal entries, its ledger fills and its order intents are
committed together before any command is executed (write-ahead). Commits are fenced by the
actor's incarnation number, so a hung actor that the supervisor replaced can never write again.
The per-decision hot path is plain SQL (storage/commit_sql.py); the rest uses the peewee models.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol, TypeVar

import peewee as pw
from loguru import logger

from storage.bounded_reads import STATUS_READ_WAIT_S, BoundedReads
from storage.commit_sql import ONE_WAY, FencedOff, charge_closed_rows, journal, write_records
from storage.database import open_database, open_postgres_database, set_meta
from storage.held_on_restore import quarantined_if_escalated
from storage.models import ActorStateRow, EscalationRow, EventRow, FillRow, Meta, database_proxy
from storage.prepared import Prepared
from storage.restore import journal_data, selected_rows
from storage.seq_floor import at_least_used
from storage.sql_conn import is_postgres, raw_connection
from storage.writer import GroupCommitWriter
from trading.commands import JournalEntry
from trading.decision import Decision

T = TypeVar("T")

SIGNAL_WINDOW = 1000
"""Received signals of a symbol an actor start looks at for lost ones (its newest); a mailbox
holds far fewer signals than this (signals.max_per_wave limits their arrival)."""
class Fenced(Exception):
    """A commit from an actor incarnation that has been replaced."""


class StateStore(Protocol):
    """How one trading style's state is stored (storage/commit_sql.py ONE_WAY,
    storage/grid_store.py HEDGE_GRID). `write` starts with the incarnation fence: it raises
    FencedOff when its fencing UPDATE matches no row."""

    name: str

    def load(self, conn: Any, symbol: str) -> Any: ...

    def write(
        self, conn: Any, symbol: str, incarnation: int, before: Any, decision: Decision, now: float
    ) -> None: ...


CommitGuard = Callable[[pw.Database], None]
"""Runs inside every write transaction, after the unit's own work (a commit's incarnation fence
included), on the writer's connection: `db.execute_sql` there is part of the transaction. Raising
aborts that unit (rolled back, the exception goes to its caller). The cluster passes "my lease
epoch is still current on the database clock"."""


class Repository:
    def __init__(
        self,
        path: Path | None = None,
        *,
        synchronous: str = "full",
        clock: Callable[[], float] = time.time,
        url: str | None = None,
        schema: str = "public",
        commit_guard: CommitGuard | None = None,
    ) -> None:
        """SQLite at `path` (the default), or, with `url` (postgresql://...), the account's
        `schema` on that PostgreSQL server (`path` is then None)."""
        if url is not None:
            self.path: Path | None = None
            self.db: pw.Database = open_postgres_database(url, schema)
        elif path is not None:
            self.path = Path(path)
            self.db = open_database(self.path, synchronous=synchronous)
        else:
            raise ValueError("Repository: a SQLite path or a PostgreSQL url is needed")
        self.writer = GroupCommitWriter(self.db, guard=commit_guard)
        self.clock = clock
        with database_proxy.using(self.db):
            self.id_tag = Meta.get(Meta.key == "id_tag").value
        self.db.close()  # the opening thread keeps no connection; readers open short-lived ones
        self._bounded = BoundedReads(self.read, threaded=is_postgres(self.db), clock=clock)
        self._readers = 0  # threads inside `reading` (their connections close as they leave)
        self._closed = False
        self._readers_lock = threading.Lock()

    def close(self, writer_timeout_s: float = 30.0) -> bool:
        """Stop the writer (its queue is committed first) and close the connections. When the
        server stopped answering (`unreachable`), the calls in flight are aborted first, so
        closing waits for none of them (each would otherwise end only at its deadline). A
        writer still busy after `writer_timeout_s` is one ERROR line: what it had queued is
        not committed unless it finishes before the process ends. A read in progress (an
        actor stuck past the stop) finishes first on its connection. Returns whether the writer
        ended (False: it may still write; the file's locks must stay held until exit)."""
        if self.unreachable is not None:
            self.abort()
        waiting = self.writer.close(writer_timeout_s)
        if waiting is not None:
            logger.error("database writer for {} did not finish within {:g} s: the write in "
                         "progress and {} queued write(s) behind it are not committed (lost if "
                         "the process ends first)", self.path or "the PostgreSQL schema",
                         writer_timeout_s, waiting)
        self.db.close()
        if waiting is None or is_postgres(self.db):
            # every connection goes back, the writer's and the readers', but one a thread is
            # still reading on only when that read ends (`reading`): found by review, closing
            # it under the read failed it, "Cannot operate on a closed database."
            with self._readers_lock:
                self._closed = True
                self._close_unused()
        elif (close_idle := getattr(self.db, "close_idle", None)) is not None:
            close_idle()  # SQLite, the writer still busy: it keeps its connection, may commit
        return waiting is None

    def abort(self) -> None:
        """PostgreSQL: end every call in flight now and refuse new ones (each fails with an
        error), for stopping an account whose server stopped answering. SQLite: nothing."""
        abort = getattr(self.db, "abort", None)
        if abort is not None:
            abort()

    @property
    def aborted(self) -> bool:
        """`abort` was called: every call fails from now on (the account is stopping)."""
        return bool(getattr(self.db, "aborted", False))

    @contextmanager
    def reading(self) -> Iterator[None]:
        """A connection to this repository's database for the block (taken from the database's
        pool and handed back after: SQLite and PostgreSQL both keep them open), with the models
        routed to it on this thread (several repositories, one per account, can be open in one
        process)."""
        with self._readers_lock:
            self._readers += 1
        try:
            with database_proxy.using(self.db), self.db.connection_context():
                yield
        finally:
            with self._readers_lock:
                self._readers -= 1
                if self._closed:  # a read after (or across) `close` leaves nothing open
                    self._close_unused()

    def _close_unused(self) -> None:
        """Once closed (under `_readers_lock`): every connection when no read is in progress,
        else the idle ones (the last read to end closes the rest)."""
        close = getattr(self.db, "close_idle" if self._readers else "close_all", None)
        if close is not None:
            close()

    def read(self, query: Callable[..., T], *args: Any) -> T:
        """Run a read-only query (e.g. from storage.queries) against this repository's file."""
        with self.reading():
            return query(*args)

    def read_bounded(self, query: Callable[..., T], *args: Any,
                     wait_s: float = STATUS_READ_WAIT_S) -> tuple[T | None, str | None]:
        """`read` for the run loop's status round, which must never wait on a server that does
        not answer: on PostgreSQL the read runs on its own thread and is waited for `wait_s`;
        without an answer by then this returns the last answer (else None) and why, and
        the read goes on (a call is bounded, cluster_database.DeadlineConnection); no second
        read of the same query starts while it does (nor is it waited for again); its answer,
        when it comes, is the last answer from the next round on, dated when it came. SQLite (a
        local file) reads directly; a read that fails there is answered the same way (the last
        answer and why), not raised: found by review, the status round then left the account
        out, so a single account's status read all-clear (no positions, no escalations) and its
        stop coverage was not looked at while the read kept failing."""
        return self._bounded(query, *args, wait_s=wait_s)

    def read_at(self, query: Callable[..., Any], *args: Any) -> float | None:
        """When `read_bounded(query, *args)` last got an answer (None: none in this run)."""
        return self._bounded.read_at(query, *args)

    @property
    def unreachable(self) -> str | None:
        """Why the last bounded read got no answer (None: it answered); see `read_bounded`."""
        return self._bounded.unreachable

    # -- per-symbol lifecycle -------------------------------------------------------------
    def claim(self, symbol: str) -> int:
        """Start a new incarnation of the symbol's actor; older incarnations are fenced off."""

        def work() -> int:
            conn = raw_connection(self.db)
            conn.execute(
                "INSERT INTO actor_state (symbol, incarnation, phase, order_seq, "
                "cooldown_until, close_attempts, needs_stop, quarantined, restarts, updated_at) "
                "VALUES (?, 0, 'flat', 0, 0, 0, FALSE, FALSE, 0, ?) "
                "ON CONFLICT (symbol) DO NOTHING",
                (symbol, self.clock()),
            )
            conn.execute(
                "UPDATE actor_state SET incarnation = incarnation + 1 WHERE symbol=?", (symbol,)
            )
            return conn.execute(
                "SELECT incarnation FROM actor_state WHERE symbol=?", (symbol,)
            ).fetchone()[0]

        return self.writer.submit(work)

    def load(self, symbol: str, store: StateStore = ONE_WAY) -> Any:
        """Restore a symbol's state on a short-lived connection (actor threads must not each keep
        a SQLite connection open: 500 of them cost ~50 MB). Its `order_seq` is never below a
        sequence number a stored row of the symbol already used (storage/seq_floor.py), and a
        symbol with an open escalation is quarantined (storage/held_on_restore.py)."""
        with self.reading():
            conn = raw_connection(self.db)
            state = at_least_used(conn, symbol, store.load(conn, symbol))
            return quarantined_if_escalated(conn, symbol, state)

    def commit(
        self,
        symbol: str,
        incarnation: int,
        before: Any,
        decision: Decision,
        *,
        correlation_id: str,
        created_at: float,
        store: StateStore = ONE_WAY,
    ) -> None:
        """One transaction: the new state as `store` encodes it (fenced by the incarnation), its
        journal entries, ledger fills and escalation record. Raises Fenced for a replaced
        incarnation. The one commit path of both trading styles."""

        def work() -> None:
            conn = raw_connection(self.db)
            now = self.clock()
            charge_closed_rows(conn, decision)  # before a row this commit closes is closed
            try:
                store.write(conn, symbol, incarnation, before, decision, now)
            except FencedOff:
                raise Fenced(f"{symbol}: incarnation {incarnation} was replaced") from None
            write_records(conn, symbol, decision, correlation_id, created_at, now)

        self.writer.submit(work)

    def booked_orders(self, position_id: str) -> set[str]:
        """Client order ids with fills already in the ledger for a position (indexed)."""
        with self.reading():
            return {r.client_order_id for r in _BOOKED(position_id)}

    def booked_among(self, client_order_ids: set[str], symbol: str | None = None) -> set[str]:
        """Which of these client order ids have fills in the ledger (indexed lookups); with
        `symbol`, fills of that symbol only: a fill the venue gave no client id is named by its
        trade id (`trade-<id>`), and Binance numbers trades per symbol, so ETH's booked trade
        1001 is not BTC's trade 1001."""
        if not client_order_ids:
            return set()
        # the symbol is compared here, not in SQL: given `symbol = ?` too, SQLite searched the
        # symbol index for two ids or more, reading every fill the symbol ever had (rule 6)
        query = FillRow.select(FillRow.client_order_id, FillRow.symbol).where(
            FillRow.client_order_id.in_(sorted(client_order_ids)))
        with self.reading():
            return {r.client_order_id for r in query if symbol is None or r.symbol == symbol}

    def unhandled_signals(self, symbol: str) -> list[dict[str, Any]]:
        """Signals journaled as received whose handling was never journaled, among the
        symbol's last SIGNAL_WINDOW received (indexed by symbol, type, id). Every actor start
        journals the ones it finds skipped, so those left come from one incarnation's mailbox;
        the journal is never pruned, and reading every signal the symbol ever had cost each
        start 5 s at 100,000 signals (found by review)."""
        received_rows = self._signal_rows(_RECEIVED, symbol)
        if not received_rows:
            return []
        since = min(r.id for r in received_rows)
        rows = received_rows + self._signal_rows(_ANSWERED, symbol, since)
        rows.sort(key=lambda r: r.id)
        received: dict[str, dict[str, Any]] = {}
        for row in rows:
            data = journal_data(row.id, row.data)  # garbage quarantines the symbol, naming the row
            sid = data.get("signal_id")
            if not sid:
                continue
            if row.type == "SignalReceived":
                received[sid] = data
            else:
                received.pop(sid, None)
        return list(received.values())

    def _signal_rows(self, select: Prepared, symbol: str, *values: Any) -> list[EventRow]:
        """The symbol's journal rows `select` picks (`_RECEIVED`, `_ANSWERED`)."""
        with self.reading():
            return selected_rows(select, symbol, *values)

    # -- journal and supervision records ----------------------------------------------------
    def _journal(
        self,
        symbol: str,
        entries: tuple[JournalEntry, ...] | list[JournalEntry],
        correlation_id: str,
        created_at: float,
        now: float,
    ) -> None:
        journal(raw_connection(self.db), symbol, entries, correlation_id, created_at, now)

    def record(
        self,
        symbol: str,
        type_: str,
        data: dict[str, Any],
        *,
        correlation_id: str,
        created_at: float | None = None,
    ) -> None:
        created = self.clock() if created_at is None else created_at
        entry = JournalEntry(type=type_, data=data)
        self.writer.submit(
            lambda: self._journal(symbol, [entry], correlation_id, created, self.clock())
        )

    def add_escalation(self, symbol: str, reason: str, attempts: int, last_error: str | None,
                       at: float | None = None) -> None:
        now = self.clock() if at is None else at  # when it escalated, not when this runs
        self.writer.submit(
            lambda: EscalationRow.insert(
                symbol=symbol,
                reason=reason,
                attempts=attempts,
                last_error=last_error,
                created_at=now,
            ).execute()
        )

    def quarantine(self, symbol: str, reason: str, *, correlation_id: str) -> None:
        """Quarantine a symbol from outside its actor (unreadable rows, an escalation after too
        many restarts): the scalar flags, and the incarnation moves on (fencing)."""
        now = self.clock()

        def work() -> None:
            ActorStateRow.insert(symbol=symbol, updated_at=now).on_conflict_ignore().execute()
            # a new incarnation, so the one quarantined (stopping, its queued messages still
            # committing) cannot write quarantined=False back over this
            ActorStateRow.update(quarantined=True, quarantine_reason=reason, updated_at=now,
                                 incarnation=ActorStateRow.incarnation + 1).where(
                ActorStateRow.symbol == symbol
            ).execute()
            self._journal(
                symbol,
                [JournalEntry(type="Quarantined", data={"reason": reason})],
                correlation_id,
                now,
                now,
            )

        self.writer.submit(work)

    def count_restart(self, symbol: str) -> None:
        now = self.clock()

        def work() -> None:
            # a symbol whose actor never claimed (its spawn failed) has no row yet: found by
            # review, its restarts were counted nowhere and showed 0 after the bot restarted
            ActorStateRow.insert(symbol=symbol, updated_at=now).on_conflict_ignore().execute()
            ActorStateRow.update(restarts=ActorStateRow.restarts + 1).where(
                ActorStateRow.symbol == symbol).execute()

        self.writer.submit(work)

    def set_meta(self, key: str, value: str) -> None:
        self.writer.submit(lambda: set_meta(key, value))

    def get_meta(self, key: str, default: str | None = None) -> str | None:
        with self.reading():
            row = Meta.get_or_none(Meta.key == key)
        return default if row is None else row.value

    def resolve_escalations(self, symbol: str) -> None:
        now = self.clock()
        self.writer.submit(
            lambda: (
                EscalationRow.update(resolved_at=now)
                .where((EscalationRow.symbol == symbol) & EscalationRow.resolved_at.is_null())
                .execute()
            )
        )


def is_database_locked_error(exc: BaseException) -> bool:
    return isinstance(exc, pw.OperationalError) and "locked" in str(exc)


_BOOKED = Prepared("booked fills", FillRow, (str,),
                   lambda position_id: FillRow.position_id == position_id,
                   fields=(FillRow.client_order_id,))
_SIGNAL_FIELDS = (EventRow.id, EventRow.type, EventRow.data)
_RECEIVED = Prepared("received signals", EventRow, (str,),
                     lambda symbol: (EventRow.symbol == symbol)
                     & EventRow.type.in_(["SignalReceived"]),
                     fields=_SIGNAL_FIELDS,
                     shape=lambda query: query.order_by(EventRow.id.desc()).limit(SIGNAL_WINDOW))
"""The symbol's newest SIGNAL_WINDOW received signals (a range of the (symbol, type, id) index)."""
_ANSWERED = Prepared("handled or skipped signals", EventRow, (str, int),
                     lambda symbol, since: (EventRow.symbol == symbol)
                     & EventRow.type.in_(["SignalHandled", "SignalSkipped"])
                     & (EventRow.id >= since),
                     fields=_SIGNAL_FIELDS)
"""The symbol's handled and skipped signals from journal id `since` on."""
