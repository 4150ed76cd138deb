"""The supervisor's own records in storage (restart counts, quarantines, escalations, the kill
switch) are written best effort: a database that fails or times out there must not stop what
the record is about (a restart, an emergency close, an alert, blocking entries). Found by a CI
run: a restart count that timed out left a taken-over account's actor stopped for good. They are
written off the supervisor's thread (supervision/record_keeper.py)."""

from __future__ import annotations

import json
from typing import Any

from observability.error_text import describe
from storage.restore import finite_time


def counted_escalations(repo: Any, now: float, window_s: float, log: Any) -> list[dict[str, Any]]:
    """The escalations the kill switch still counts when the account starts: those of the last
    `window_s`, since a person's last reset (meta `kill_switch_reset`). A hand-edited reset mark
    or escalation time that is not a number is one ERROR line naming it and is left out (found
    by review: the mark stopped the whole bot at start with a bare ValueError; such a time made
    every later escalation fail in the supervisor before it counted, so the switch never
    tripped)."""
    from storage import queries

    raw = repo.get_meta("kill_switch_reset")
    reset = _time(raw or 0)
    if reset is None:
        log.error("meta kill_switch_reset = {!r} is not a time; ignored (escalations of the last "
                  "{:g}s count toward the kill switch)", raw, window_s)
    since = max(now - window_s, reset or 0.0)
    counted = []
    for esc in repo.read(queries.escalations_since, since):
        if _time(esc["time"]) is None:
            log.bind(symbol=esc["symbol"]).error(
                "escalations row {} of {}: created_at = {!r} is not a time; not counted toward "
                "the kill switch", esc.get("id"), esc["symbol"], esc["time"])
            continue
        counted.append(esc)
    return counted


KILL_SWITCH_WHY = "kill_switch_why"
"""Meta key: JSON {reason, at} of the kill switch, stored with it (`trip_kill_switch`)."""


def kill_switch_why(repo: Any, log: Any) -> dict[str, Any]:
    """{reason, at} of the stored kill switch, at start. One tripped by an older version (no
    reason kept) or a hand-edited value that cannot be read says so in its reason (`at` None);
    the switch stays on either way."""
    raw = repo.get_meta(KILL_SWITCH_WHY)
    if not raw:
        return {"reason": "not recorded (tripped by an older version)", "at": None}
    try:
        why = json.loads(raw)
        reason, at = str(why["reason"]), why["at"]
    except (ValueError, TypeError, KeyError) as exc:
        log.error("meta {} = {!r} cannot be read ({}); the kill switch stays on", KILL_SWITCH_WHY,
                  raw[:200], describe(exc))
        return {"reason": f"unreadable: {raw[:200]!r}", "at": None}
    return {"reason": reason, "at": _time(at)}


def kill_switch_unstored(keeper: Any, record: str, timeout_s: float) -> str | None:
    """For a person's kill switch (off the supervisor's thread): wait up to `timeout_s` for its
    record to be stored, so "on" is never answered before a crash would keep it (found by
    review: the answer came first, and a process killed right after it restarted with the
    switch off). None once stored; else one line saying so (still retried until stored)."""
    if keeper.wait_stored(record, timeout_s=timeout_s):
        return None
    return (f"NOT stored yet: the database did not store it within {timeout_s:g}s; it is "
            "retried until stored and holds in this process meanwhile, but a crash before then "
            "loses it (press again to check)")


def stored_restarts(repo: Any, symbols: list[str], log: Any) -> dict[str, int]:
    """The stored restart count of each symbol (`actor_state.restarts`), for the status's
    `restarts` to count every restart, earlier runs' included (found by review: it showed this
    run's only; a symbol that crash-looped before the bot was restarted showed 0). Counts that
    cannot be read are one WARNING line and count from 0: no reason not to start. A stored value
    that is no count (a hand edit: text, a fraction, a non-finite number) is its own symbol's
    alone: one WARNING naming the symbol, whose count starts from 0 (found by review: one such
    row reset every symbol's count). The count only informs: the restart intensity is the
    `RestartHistory`'s (kept across restarts by supervision/restart_store.py), so no reading of
    it allows more restarts than configured."""
    from storage import queries

    try:
        stored = repo.read(queries.restart_counts, symbols)
    except Exception as exc:  # noqa: BLE001 - see above
        log.warning("stored restart counts not read ({}); counting from 0", describe(exc))
        return {}
    counts = {}
    for symbol, value in stored.items():
        n = _count(value)
        if n is None:
            log.bind(symbol=symbol).warning(
                "actor_state row of {}: restarts = {!r} is not a count; its restarts are "
                "counted from 0", symbol, value)
        counts[symbol] = n or 0
    return counts


def _count(value: Any) -> int | None:
    """A stored restart count (a negative one is 0), or None when `value` is not a whole
    number."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if isinstance(value, float) and not value.is_integer():
        return None  # a fraction, inf or NaN
    return max(int(value), 0)


def _time(value: Any) -> float | None:
    """Epoch seconds, or None when `value` is not a finite number (storage/restore.py)."""
    if isinstance(value, bool):
        return None
    try:
        return finite_time(value)
    except (TypeError, ValueError):
        return None


def open_escalation_keys(repo: Any, log: Any) -> set[tuple[str, str, str | None]]:
    """(symbol, reason, last error) of every escalation not yet resolved when the account
    starts: the same one raised again at start (a symbol whose rows still cannot be read) is
    not recorded and alerted once more (found by review: every bot restart added a duplicate
    to the status's escalations). Not read: one WARNING line, and each is recorded again."""
    from storage import queries

    try:
        rows = repo.read(queries.open_escalations)
    except Exception as exc:  # noqa: BLE001 - see above
        log.warning("open escalations not read ({}); a lasting one is recorded again",
                    describe(exc))
        return set()
    return {(e["symbol"], e["reason"], e["last_error"]) for e in rows}
