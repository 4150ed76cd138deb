"""The control table: how `bot.py resume` / `bot.py signal` reach a running (or later) bot."""

from __future__ import annotations

import json
import math
import sqlite3
import time
from pathlib import Path
from typing import Any

import peewee as pw

from storage.database import read_only_uri, set_meta
from storage.models import ActorStateRow, ControlRow, EscalationRow, Meta
from storage.queries import pending_controls
from storage.repository import Repository

SIGNAL_TTL_S = 300.0
"""A manual signal (`bot.py signal`) carries `expires_at` = queued + this; the bot drops one it
meets later, journaled (runtime/controls.py): queued while the bot was stopped, it must not
open a position at a start hours or days later."""


def request(repo: Repository, command: str, symbol: str, **args: Any) -> int:
    now = time.time()
    return repo.writer.submit(
        lambda: ControlRow.insert(
            command=command, symbol=symbol, args=json.dumps(args, default=str), created_at=now
        ).execute()
    )


SAME: dict[str, tuple[str, ...]] = {
    "pause": (), "unpause": (), "kill_switch": (), "kill_switch_reset": (), "resume": (),
    "signal": ("side",), "reset_protection": ("name",)}
"""The one rule for a control asked again while the first is pending (the dashboard, Telegram's
/pause, `bot.py resume`): the args that make two pending rows of one command and symbol the same
control (a signal row with another side is another control). `bot.py signal` is not deduplicated:
each one is its own signal (`cli-<control id>`), never swallowed as another's."""


def _same(newest: tuple[Any, str, str, Any, Any] | None, command: str, symbol: str,
          args: dict[str, Any], now: float) -> int | None:
    """The id of `newest` (id, command, symbol, args JSON, created_at: the newest pending row)
    when it is the control asked for now (its command, symbol and the args SAME names for the
    command) and, a signal, does not expire first (`_expires_first`), else None."""
    if newest is None or newest[1] != command or newest[2] != symbol:
        return None
    try:
        held = json.loads(newest[3])
    except (TypeError, ValueError, RecursionError):
        return None
    if isinstance(held, dict) and all(held.get(k) == args.get(k) for k in SAME[command]) \
            and not _expires_first(newest[1], newest[4], held, now):
        return int(newest[0])
    return None


def request_once(repo: Repository, command: str, symbol: str, **args: Any) -> tuple[int, bool]:
    """Queue a control unless the newest pending row is the same one (`_same`): (that row's
    id, False) then, else (the new row's id, True). One transaction on the writer thread, so
    two requests at once (a double click, two tabs, a /pause Telegram hands again) queue one
    row; a row that was applied already, or another control queued after it, is no duplicate
    (pause, unpause, pause is three)."""
    now = time.time()

    def work() -> tuple[int, bool]:
        newest = (ControlRow.select().where(ControlRow.done_at.is_null())
                  .order_by(ControlRow.id.desc()).first())
        held = _same(None if newest is None else
                     (newest.id, newest.command, newest.symbol, newest.args, newest.created_at),
                     command, symbol, args, now)
        if held is not None:
            return held, False
        cid = ControlRow.insert(command=command, symbol=symbol,
                                args=json.dumps(args, default=str), created_at=now).execute()
        return int(cid), True

    result: tuple[int, bool] = repo.writer.submit(work)
    return result


SAME_SIGNAL_SLACK_S = 60.0
"""A pending signal row is the same control as a new request (`request_once`) only if it expires
at most this much before the new one would (SIGNAL_TTL_S from now): a double click or a second
tab, not a close pressed again minutes later while the first waits (a worker down)."""


def _expires_first(command: str, created_at: Any, args: dict[str, Any], now: float) -> bool:
    """Whether a pending signal row expires more than SAME_SIGNAL_SLACK_S before a signal queued
    now would: the run loop may drop it as expired (runtime/controls.py), so it answers for no
    new request. Found by review: a close pressed again 400 s after the first, both queued while
    the account's worker was down, was told "already queued" by a row dropped as expired."""
    if command != "signal":
        return False
    held = args.get("expires_at")
    try:
        expires = float(held) if held not in (None, "") else float(created_at) + SIGNAL_TTL_S
    except (TypeError, ValueError):
        return True
    return not expires >= now + SIGNAL_TTL_S - SAME_SIGNAL_SLACK_S  # NaN: expires first


def take_pending(repo: Repository) -> list[tuple[int, str, str, dict[str, Any]]]:
    return [(r.id, r.command, r.symbol, json.loads(r.args)) for r in repo.read(pending_controls)]


def pending_commands(repo: Repository) -> list[tuple[str, str]]:
    """(command, symbol) of every pending control, its args unread (a row whose args cannot be
    read is reported by `take_readable` when it is applied, not here)."""
    return [(r.command, r.symbol) for r in repo.read(pending_controls)]


def take_readable(repo: Repository) -> tuple[list[tuple[int, str, str, dict[str, Any]]], list[str]]:
    """The pending controls that can be read, and one line per row that cannot (that row is
    marked done with the same line, so it never blocks the ones after it)."""
    readable, problems = [], []
    for row in repo.read(pending_controls):
        try:
            args = json.loads(row.args)
            if not isinstance(args, dict):
                raise TypeError(f"args is a JSON {type(args).__name__}, not an object")
        except (TypeError, ValueError, RecursionError) as exc:  # RecursionError: nested too deep
            problem = f"control row {row.id} ({row.command} {row.symbol}): unreadable args: {exc}"
            mark_done(repo, row.id, problem[:500])
            problems.append(problem)
            continue
        if row.command == "signal" and args.get("expires_at") in (None, ""):
            args["expires_at"] = _legacy_expiry(row.created_at)
        readable.append((row.id, row.command, row.symbol, args))
    return readable, problems


def _legacy_expiry(created_at: Any) -> float | None:
    """The expiry of a signal row without `expires_at`: one queued by a `bot.py signal` older
    than d7c0bed1, which wrote none (none other queues signals). Read as never expiring, such a
    row queued before an upgrade while the bot was stopped opened a position at the next start,
    a day later or more (found by an upgrade run from 000185b0). It lives SIGNAL_TTL_S from the
    row's `created_at`, when it was queued (a time that is no finite number: None, as before)."""
    try:
        queued = float(created_at)
    except (TypeError, ValueError):
        return None
    return queued + SIGNAL_TTL_S if math.isfinite(queued) else None


def requested_since(command: str, by: str, since: float) -> bool:
    """Inside `repo.read`: whether `by` queued `command` at or after `since` (epoch seconds).
    Reads back from the newest row to the first one created before `since` only (a Telegram
    command met again after a restart: dashboard/wiring.py `paused_since`)."""
    rows = ControlRow.select().order_by(ControlRow.id.desc()).iterator()
    for row in rows:
        if row.created_at < since:
            return False
        if row.command != command:
            continue
        try:
            args = json.loads(row.args)
        except (TypeError, ValueError, RecursionError):
            continue
        if isinstance(args, dict) and args.get("by") == by:
            return True
    return False


RESUMING = "resuming, the quarantine not lifted yet; was: "
"""A pending resume row's result once its first half is stored (runtime/controls.py): the
escalations resolved and the owed emergency close forgiven, the quarantine still to be lifted
by the supervisor. Applied again (a restart) it only lifts: nothing is forgiven twice."""


def begin_resume(repo: Repository, control_id: int, symbol: str, owed_key: str,
                 was: str) -> None:
    """One transaction: `symbol`'s escalations resolved, its owed close forgiven and the row
    marked RESUMING (a kill in between leaves all or none of them)."""
    now = repo.clock()

    def work() -> None:
        EscalationRow.update(resolved_at=now).where(
            (EscalationRow.symbol == symbol) & EscalationRow.resolved_at.is_null()).execute()
        set_meta(owed_key, "")
        ControlRow.update(result=RESUMING + was).where(ControlRow.id == control_id).execute()

    repo.writer.submit(work)


def resuming(control_id: int) -> str | None:
    """Inside `repo.read`: what a begun resume row lifts ("quarantined", ...), None if it has
    not begun."""
    row = ControlRow.get_or_none(ControlRow.id == control_id)
    if row is None or row.result is None or not row.result.startswith(RESUMING):
        return None
    return str(row.result).removeprefix(RESUMING)


def resumes_not_begun(repo: Repository) -> set[str]:
    """The symbols of pending resume rows whose forgiving half has not run: an owed close of
    one of these is a person's to drop (one owed after a begun resume is a new escalation's)."""
    return {r.symbol for r in repo.read(pending_controls)
            if r.command == "resume" and not (r.result or "").startswith(RESUMING)}


def mark_done(repo: Repository, control_id: int, result: str) -> None:
    now = time.time()
    repo.writer.submit(
        lambda: (
            ControlRow.update(done_at=now, result=result)
            .where(ControlRow.id == control_id)
            .execute()
        )
    )


LOCK_BUDGET_S = 30.0
"""How long a control write keeps trying while the running bot holds the write lock."""


def request_at(path: Path, command: str, symbol: str, args: dict[str, Any], *,
               budget_s: float = LOCK_BUDGET_S) -> int:
    """`request_at_once` without the duplicate check: the new row's id."""
    return _request_at(path, command, symbol, args, False, budget_s)[0]


def request_at_once(path: Path, command: str, symbol: str, args: dict[str, Any], *,
                    budget_s: float = LOCK_BUDGET_S) -> tuple[int, bool]:
    """`request_at`, answered by the newest pending row when it is this control (`_same`) in
    the same transaction: (its id, False); else (the new row's id, True)."""
    return _request_at(path, command, symbol, args, True, budget_s)


def _request_at(path: Path, command: str, symbol: str, args: dict[str, Any], once: bool,
                budget_s: float) -> tuple[int, bool]:
    """Queue a control row in the database at `path` (which the bot created) from another
    process, without opening a Repository: opening one migrates and writes meta, which under
    the running bot's commits failed with "database is locked" (issue 12 item 8). Here the
    write lock is taken up front (BEGIN IMMEDIATE, so a read snapshot is never upgraded) and
    waited for with SQLite's busy timeout, retried within `budget_s`. `once`: see
    `request_at_once`."""
    table = ControlRow._meta.table_name
    row = (command, symbol, json.dumps(args, default=str), time.time())
    deadline = time.monotonic() + budget_s
    while True:
        left = max(deadline - time.monotonic(), 0.05)
        try:
            con = sqlite3.connect(str(path), timeout=left, isolation_level=None)
            try:
                con.execute(f"PRAGMA busy_timeout = {int(left * 1000)}")
                con.execute("BEGIN IMMEDIATE")
                if once:
                    newest = con.execute(f"SELECT id, command, symbol, args, created_at FROM "
                                         f"{table} WHERE done_at IS NULL ORDER BY id DESC "
                                         "LIMIT 1").fetchone()
                    held = _same(newest, command, symbol, args, row[3])
                    if held is not None:
                        con.execute("COMMIT")
                        return held, False
                cur = con.execute(f"INSERT INTO {table} (command, symbol, args, created_at) "
                                  "VALUES (?, ?, ?, ?)", row)
                con.execute("COMMIT")
                return int(cur.lastrowid or 0), True
            finally:
                con.close()
        except sqlite3.DatabaseError as exc:  # also "file is not a database" (not Operational)
            busy = isinstance(exc, sqlite3.OperationalError) and (
                "locked" in str(exc) or "busy" in str(exc))
            if not busy or time.monotonic() >= deadline:
                raise ControlWriteFailed(f"{path}: cannot queue {command} {symbol}: {exc}") \
                    from None
            time.sleep(0.05)


def database_made(path: Path) -> bool:
    """Whether the bot created its database at `path`: not a file the bot's lock on it left
    empty (runtime/runner.py locks each database before opening it, so a start that failed in
    between, another account's refusal, left 0 bytes and no tables). SQLite writes the main
    file when it switches to WAL, so an empty one with an empty or no -wal holds nothing."""
    try:
        if path.stat().st_size > 0:
            return True
        wal = path.with_name(path.name + "-wal")
        return wal.exists() and wal.stat().st_size > 0
    except OSError:  # none there (or a file where a folder should be: the caller says so)
        return False


class ControlWriteFailed(Exception):
    """The control row could not be written (the message names the file and the cause)."""


def held(symbol: str, owed_key: str) -> str | None:
    """Inside `repo.read`: why the database has `symbol` stopped (quarantined, an unresolved
    escalation, an emergency close owed under meta `owed_key`), or None when it is not. Reads
    only columns every schema version has: `bot.py resume` reads a file no bot of this version
    has migrated yet (after `git pull`), and a select of this version's whole row (fees_owed,
    schema 4) failed there, so a resume of a symbol not stopped was queued, not refused."""
    quarantined = ActorStateRow.select(ActorStateRow.quarantined).where(
        ActorStateRow.symbol == symbol).scalar()
    if quarantined:
        return "quarantined"
    return escalated(symbol, owed_key)


def escalated(symbol: str, owed_key: str) -> str | None:
    """Inside `repo.read`: `held` but for a quarantine (an open escalation, an owed close)."""
    if EscalationRow.select().where((EscalationRow.symbol == symbol)
                                    & EscalationRow.resolved_at.is_null()).exists():
        return "escalated"
    meta = Meta.get_or_none(Meta.key == owed_key)
    return "an emergency close is owed" if meta is not None and meta.value else None


def not_stopped(symbol: str, owed_key: str, *, db_path: Path | None = None,
                repo: Repository | None = None) -> str | None:
    """`resume` of a symbol the bot's database does not have stopped: one line, nothing queued
    (the bot checks again when it applies a resume: runtime/controls.py). SQLite: the file at
    `db_path`, read-only; PostgreSQL: the account's schema through `repo` (it was queued
    unchecked: found by review)."""
    if repo is not None:
        if repo.read(held, symbol, owed_key) is not None:
            return None
    elif db_path is not None and database_made(db_path) \
            and held_in_file(db_path, symbol, owed_key) is not False:
        return None  # stopped, or not readable here: the bot decides
    return (f"resume {symbol}: not stopped (not quarantined, no open escalation, no emergency "
            "close owed); nothing queued")


def held_in_file(path: Path, symbol: str, owed_key: str) -> bool | None:
    """`held` read from the SQLite file at `path` by another process (read-only, no
    migration, no write lock): True or False, None when it cannot be read (let the bot say)."""
    db = pw.SqliteDatabase(read_only_uri(path), uri=True, timeout=5)
    try:
        with db.bind_ctx([ActorStateRow, EscalationRow, Meta]):
            return held(symbol, owed_key) is not None
    except pw.PeeweeException:
        return None
    finally:
        db.close()
