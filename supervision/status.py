"""The supervisor status dump: one dict for `--json`, the same data as a table.

The running bot writes it to `<data dir>/status.json` (temp file, fsync, rename) every
`bot.status_interval_s`; `bot.py status` reads that file and asks the OS whether the instance
lock is still held, so it works while the bot runs and after it stopped.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from storage.atomic_file import atomic_write_text
from supervision.child import ChildState

STATUS_FILE = "status.json"
OPERATOR_FIELDS = ("pnl", "protections", "protections_configured", "entries_paused")
"""Per-account fields added by protections/guard.py (P&L summary, tripped protections, pause)."""
ACCOUNT_FIELDS = (*OPERATOR_FIELDS, "streams", "database", "database_read_at",
                  "emergency_closes_owed",
                  "emergency_closes_not_booked", "kill_switch_reason", "kill_switch_at")
"""Per-account fields passed through to the dump: the operator's, the streams' health,
`database` when the status round's read found it not answering (with `database_read_at`, when
its last answer came: `database_fields`), the emergency closes still
owed and those sent whose fill is not booked yet (runtime/account.py), the kill switch's reason
and time while it is on."""

EQUITY_LABEL = "equity (capital + realized)"
OLD_PRICE_S = 60.0
"""A position's price older than this (its last tick, or a start's reconciliation read) is
said with its age: Telegram's /status, the status table (dashboard/static/app.js has its own)."""
"""How every reader names the P&L's `equity` (the table, the page, Telegram's /status and daily
summary): the configured capital (`protections.capital_usdt`, or the paper balance) plus the
realized P&L net of fees, no open position's unrealized P&L in it. Found by review: shown as
"equity" it read as the account's equity on the exchange, which moves with every open position.
The JSON key stays `equity` (machines read it)."""


def build_status(
    sup: Any, bot: dict[str, Any], now: float, escalations: list[dict[str, Any]]
) -> dict[str, Any]:
    actors = []
    open_positions = protected = unreadable = restoring = 0
    for symbol, child in sup.children.items():
        published = sup.views.get(symbol)
        view, failed = _view(published)
        entry = _actor_entry(symbol, child, view, now)
        actors.append(entry)
        if failed is not None:  # what it holds is unknown: counted as an unreadable symbol
            entry["view_error"] = failed
            unreadable += 1
        elif view is not None and view.position is not None:
            opened, covered = _position_counts(view)
            open_positions += opened
            protected += covered
        elif _unreadable(child) or _never_started(child, view):
            unreadable += 1
        elif view is None:
            restoring += 1
    return {
        "bot": {**bot, "heartbeat_at": now},
        "actors": actors,
        "health": _health(open_positions, protected, unreadable, restoring),
        "escalations": escalations,
        "kill_switch": sup.kill_switch,
        **_kill_switch_why(sup),
    }


def _kill_switch_why(sup: Any) -> dict[str, Any]:
    """`kill_switch_reason` and `kill_switch_at` while the kill switch is on."""
    why = getattr(sup, "kill_switch_why", None)
    if not sup.kill_switch or why is None:
        return {}
    return {"kill_switch_reason": why["reason"], "kill_switch_at": why["at"]}


def _view(published: Any) -> tuple[Any, str | None]:
    """The symbol's view, or (None, the error) when its state cannot be rendered. Found by
    review: one symbol's render that raised failed the whole account's status every round; its
    actors left status.json (the single-account bot's showed open 0, ts_coverage 100 %) and the
    account's stop-coverage and reconcile alerts stopped looking at any symbol."""
    if published is None:
        return None, None
    try:
        return published.view(), None
    except Exception as exc:  # noqa: BLE001 - one symbol's state, never the whole status
        return None, f"{type(exc).__name__}: {exc}"[:300]


def stream_status(feed: Any) -> dict[str, Any]:
    """The account's `streams` block (mode stream/rest, connected, last message age,
    reconnects: actors/stream_feed.py) when the feed runs on streams, else nothing."""
    block = getattr(feed, "status", None)
    return {"streams": block()} if callable(block) else {}


def _actor_entry(symbol: str, child: Any, view: Any, now: float) -> dict[str, Any]:
    """One symbol actor's line of the status: its supervision record and published view."""
    mailbox = child.ref.actor_inbox.qsize() if child.ref is not None else 0
    state = child.state.value
    if view is not None and view.quarantined and child.state is ChildState.RUNNING:
        state = ChildState.QUARANTINED.value
    entry: dict[str, Any] = {
        "symbol": symbol,
        "state": state,
        "incarnation": child.incarnation,
        "restarts": child.restarts,
        "mailbox": mailbox,
        "last_failure": child.last_failure,
        "strategy_off": child.strategy_off,
        "position": None,
        "stop_price": None,
        "trailing": None,
        "cooldown_until": None,
        "close_failures": 0,
        "last_tick_age_s": None,
        "price_age_s": None,
        "phase": None,
        "protected": False,
        "quarantine_reason": None,
        "reconciled": False,
    }
    if view is not None:
        entry.update(
            phase=view.phase,
            position=view.position,
            stop_price=view.stop_price,
            trailing=view.trailing,
            protected=view.protected,
            cooldown_until=view.cooldown_until if view.cooldown_until > now else None,
            close_failures=view.close_attempts if _closing(view) else 0,
            last_tick_age_s=None
            if view.last_tick_at is None
            else round(now - view.last_tick_at, 3),
            price_age_s=None if view.priced_at is None else round(now - view.priced_at, 3),
            quarantine_reason=view.quarantine_reason,
            reconciled=view.reconciled,
        )
    return entry


def _closing(view: Any) -> bool:
    """Whether the view's close attempts are current: a one-way position being closed, a
    quarantined symbol, or a hedge grid with an open leg (the grid's view has no "closing"
    phase; a leg's count is non-zero only while its close fails, a closed leg starts afresh)."""
    legs = view.position.get("legs") if view.position is not None else None
    return view.phase == "closing" or bool(view.quarantined) or bool(legs)


def _position_counts(view: Any) -> tuple[int, int]:
    """(open positions, protected ones) of a view holding a position."""
    legs = view.position.get("legs")  # a hedge grid: one position per leg
    if legs:
        return len(legs), sum(1 for leg in legs if leg["protected"])
    return 1, 1 if view.protected else 0


def _unreadable(child: Any) -> bool:
    """Quarantined because its persisted state could not be read (supervisor
    `_quarantine_unreadable`): whatever it holds on the exchange is not in the counts."""
    failure = child.last_failure or {}
    return child.state is ChildState.QUARANTINED and failure.get("where") == "restore"


def _never_started(child: Any, view: Any) -> bool:
    """Quarantined before its actor ever published a state (every start failed and the
    supervisor gave up): not restoring any more, and what it holds is unknown, as for an
    unreadable symbol (found by review: such a symbol with a position showed as 'restoring' and
    coverage 100 % for as long as the bot ran)."""
    return view is None and child.state is ChildState.QUARANTINED


def _health(open_positions: int, protected: int, unreadable: int = 0,
            restoring: int = 0) -> dict[str, Any]:
    """Trailing-stop coverage, and the symbols whose state could not be read: their positions
    are in neither count (found by review: 4 positions on the exchange, 2 of them behind
    unreadable rows, showed as 'open 2, ts_coverage 100 %'). Coverage is protected / (open +
    unreadable), 1.0 when there is neither: what an unreadable symbol holds is not known to be
    protected, so coverage is below 1 as `bot_stop_coverage_ratio` is (observability/metrics.py).
    `restoring_symbols`: actors that have not restored their state yet (after a start or a
    restart what they hold is not known yet; found by a soak review: "open 0, ts_coverage 100 %"
    for ~50 s after a restart while 20 actors still started): shown, not counted."""
    known = open_positions + unreadable
    coverage = 1.0 if known == 0 else protected / known
    return {
        "open_positions": open_positions,
        "protected_positions": protected,
        "ts_coverage": round(coverage, 4),
        "unreadable_symbols": unreadable,
        "restoring_symbols": restoring,
    }


def combine_status(
    bot: dict[str, Any], per_account: dict[str, dict[str, Any]], now: float, *, grouped: bool
) -> dict[str, Any]:
    """The whole bot's dump from each account's ``build_status`` (plus its ``exchange``).

    ``accounts`` maps each account to its own actors, health, escalations and kill switch.
    The top-level ``actors``/``health``/``escalations``/``kill_switch`` stay as they always were
    for the single-account bot; with several accounts (``grouped``) they cover every account:
    each actor and escalation names its ``account``, health adds up, and ``kill_switch`` is true
    when any account's is on (see ``accounts`` for which)."""
    accounts = {
        name: {
            "exchange": st.get("exchange"),
            "kill_switch": st["kill_switch"],
            "health": st["health"],
            "escalations": st["escalations"],
            "actors": st["actors"],
            **{k: st[k] for k in ACCOUNT_FIELDS if k in st},
        }
        for name, st in per_account.items()
    }
    if not grouped and len(per_account) == 1:
        only = next(iter(per_account.values()))
        return {
            "bot": {**bot, "heartbeat_at": now},
            "actors": only["actors"],
            "health": only["health"],
            "escalations": only["escalations"],
            "kill_switch": only["kill_switch"],
            **{k: only[k] for k in ACCOUNT_FIELDS if k in only},
            "accounts": accounts,
        }
    return _grouped(bot, accounts, now)


def _grouped(
    bot: dict[str, Any], accounts: dict[str, dict[str, Any]], now: float
) -> dict[str, Any]:
    """Every account's actors and escalations (each naming its account), health added up."""
    actors, escalations = [], []
    open_positions = protected = unreadable = restoring = 0
    for name, entry in accounts.items():
        for actor in entry["actors"]:
            actor["account"] = name
            actors.append(actor)
        for esc in entry["escalations"]:
            esc["account"] = name
            escalations.append(esc)
        open_positions += entry["health"]["open_positions"]
        protected += entry["health"]["protected_positions"]
        unreadable += entry["health"].get("unreadable_symbols", 0)
        restoring += entry["health"].get("restoring_symbols", 0)
    return {
        "bot": {**bot, "heartbeat_at": now},
        "actors": actors,
        "health": _health(open_positions, protected, unreadable, restoring),
        "escalations": escalations,
        "kill_switch": any(e["kill_switch"] for e in accounts.values()),
        "accounts": accounts,
    }


def write_status(data_dir: Path, status: dict[str, Any]) -> None:
    atomic_write_text(data_dir / STATUS_FILE, json.dumps(status, indent=1, default=str))


def read_status(data_dir: Path, *, constants_as_text: bool = False) -> dict[str, Any] | None:
    """The snapshot (None: none yet); ValueError for a file that is not JSON, one nested too
    deep for the parser included (a hand-edited file: its RecursionError was a traceback).
    ``constants_as_text``: NaN and Infinity, which JSON does not have, are read as the text
    ``"NaN"`` / ``"Infinity"`` (a value that is no number, as a hand edit's): the dashboard sent
    them on as they were, and a browser's JSON.parse refused the whole status."""
    path = data_dir / STATUS_FILE
    if not path.exists():
        return None
    text = path.read_text()
    try:
        return json.loads(text, parse_constant=str if constants_as_text else None)
    except RecursionError:
        raise ValueError("nested too deep to read") from None


def render_table(status: dict[str, Any], account: str | None = None) -> str:
    """The table view (rich); with several accounts, one section per account (or only
    ``account``)."""
    from supervision.status_view import render

    return render(status, account)


AHEAD_TOLERANCE_S = 5.0
"""A heartbeat further ahead of the reader's clock than this is not fresh (`bot.py status`, the
dashboard): the bot writes it from the host's clock moments before it is read, so it means the
clock was set back since, and a bot whose loop stopped then would read as current for as long
as the step (found by review)."""


def pid_alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return True


def mark_age(actor: dict[str, Any]) -> Any:
    """The age of the price an actor's mark comes from: its last tick, or after a start its
    reconciliation's read (found by review: before the first tick of a run the tick age was
    empty, so the mark read as current); a status written before `price_age_s` has the tick's."""
    return actor.get("price_age_s", actor.get("last_tick_age_s"))


def database_fields(why: str, read_at: float | None) -> dict[str, Any]:
    """An account's status fields while its database does not answer the status round: the
    escalations and emergency closes owed shown are as last read, dated, or not read at all in
    this run (found by review: the line said "as last read" but not when, and a run whose
    database was gone from its first round showed no escalation, read as none)."""
    seen = ("escalations and emergency closes owed not read yet in this run: unknown, not none"
            if read_at is None else "escalations and emergency closes owed as last read at "
            + datetime.fromtimestamp(read_at, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))
    return {"database": f"unreachable: {why}; {seen}", "database_read_at": read_at}
