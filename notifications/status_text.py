"""The text of Telegram's ``/status`` reply, from the status document (``status.json`` as the
dashboard reads it, dashboard/source.py).

Nothing the status reports as wrong reads all-clear here either (as on the dashboard page and in
the status table): symbols whose stored state is unreadable (their positions are unknown and in
no count), quarantined symbols, open escalations, symbols still restoring, a status file no
longer written (found by review: the reply said "open 0 (protected 0)" through all of them), a
database not answering, price streams down (found by review: the page and the status table
showed both in red, the reply did not), a symbol whose strategy is off, an account with no
status at all."""

from __future__ import annotations

import contextlib
import math
import time
from typing import Any

from supervision.reconcile_watch import shown_unchecked
from supervision.status import EQUITY_LABEL, OLD_PRICE_S, mark_age

MAX_NAMES = 10
"""Symbols named per line at most (the reply stays one Telegram message)."""
MAX_POSITIONS = 20
"""Position lines per account at most (those without their stop first: never the ones cut)."""


def source_text(source: Any) -> str:
    """The reply from a dashboard.source.DashboardSource: its status, or why it cannot be read
    (found by review: a status file that could not be read, e.g. not JSON after a damaged
    disk, was answered "no status yet", as if the bot had just started)."""
    status, problem = source.read()
    if status is None and problem:
        return f"STATUS UNREADABLE: {problem[:300]}"
    return status_text(status)


def status_text(status: dict[str, Any] | None) -> str:
    status = status or {}
    bot, accounts = status.get("bot") or {}, status.get("accounts") or {}
    lines = _bot_lines(bot)
    # an account the bot runs but whose status was not built (as the page's "NO STATUS"; it
    # was left out unsaid, found by review)
    configured = bot.get("accounts")
    lines += [f"ACCOUNT {name}: NO STATUS: its positions and stops are unknown"
              for name in (configured if isinstance(configured, list) else [])
              if name not in accounts]
    for name, entry in accounts.items():
        pnl, h = entry.get("pnl") or {}, entry["health"]
        lines.append(
            f"{name}: open {h['open_positions']} (protected "
            f"{h['protected_positions']}), {_pnl(pnl)}"
            f"{_kill_switch(entry)}"
            f"{', PAUSED' if entry.get('entries_paused') else ''}"
        )
        lines += [f"  {line}" for line in _trouble(entry)]
        lines += [f"  {line}" for line in _positions(entry.get("actors") or [])]
        lines += [
            f"  {p['name']} {p.get('symbol') or ''}: {p['reason']}"
            for p in entry.get("protections") or []
        ]
    return "\n".join(lines) or "no status yet"


def _pnl(pnl: dict[str, Any]) -> str:
    """The P&L figures, or that they are unknown (not read yet: no zeros that read as real)."""
    if pnl.get("unknown"):
        return f"P&L UNKNOWN ({str(pnl['unknown'])[:200]})"
    stale = (f", P&L NOT CURRENT ({str(pnl['not_current'])[:200]})"
             if pnl.get("not_current") else "")
    return (f"today {pnl.get('realized_today')} USDT, total {pnl.get('realized_total')}, "
            f"{EQUITY_LABEL} {pnl.get('equity')}{stale}")


def _bot_lines(bot: dict[str, Any]) -> list[str]:
    if bot.get("running") is False:
        return ["BOT NOT RUNNING (the last status it wrote follows)"]
    if bot.get("heartbeat_stale"):
        age = bot.get("heartbeat_age_s")
        when = "never" if age is None else f"last written {age:.0f} s ago"
        return [f"BOT NOT UPDATING ITS STATUS ({when})"]
    return []


def _kill_switch(entry: dict[str, Any]) -> str:
    if not entry.get("kill_switch"):
        return ""
    why = entry.get("kill_switch_reason")
    return f", KILL SWITCH ({str(why)[:120]})" if why else ", KILL SWITCH"


def _owed_next(owed: dict[str, Any]) -> str:
    failed, error, at = owed.get("failed_runs") or 0, owed.get("last_error"), owed.get(
        "next_retry_at")
    tried = f"failed {failed} time{'s' if failed != 1 else ''}" if failed else "not run yet"
    when = (f"; next try {time.strftime('%H:%M:%S UTC', time.gmtime(at))}"
            if isinstance(at, (int, float)) else "")
    running = "running; " if owed.get("running") and not when else ""
    return f"{running}{tried}{f' ({str(error)[:120]})' if error else ''}{when}"


def _trouble(entry: dict[str, Any]) -> list[str]:
    h, actors = entry["health"], entry.get("actors") or []
    unreadable = [a["symbol"] for a in actors if a.get("state") == "quarantined"
                  and (a.get("last_failure") or {}).get("where") == "restore"]
    quarantined = [a["symbol"] for a in actors
                   if a.get("state") == "quarantined" and a["symbol"] not in unreadable]
    lines = []
    n = int(h.get("unreadable_symbols") or 0)
    if n:
        lines.append(f"STATE UNREADABLE {n} symbol{'s' if n != 1 else ''} (position"
                     f"{'s' if n != 1 else ''} unknown){_names(unreadable)}")
    if quarantined:
        lines.append(f"QUARANTINED{_names(quarantined)}")
    unchecked = shown_unchecked(actors)  # their lines below are as the books last held them
    if unchecked:
        lines.append(f"NOT RECONCILED with the exchange (position and stop as last known)"
                     f"{_names(unchecked)}")
    # as the page's red `STRATEGY OFF: ...` (the reply said nothing: the symbol read as trading)
    off = [a for a in actors if a.get("strategy_off")]
    lines += [f"STRATEGY OFF: {a.get('symbol')} ({str(a['strategy_off'])[:120]})"
              for a in off[:MAX_NAMES]]
    if len(off) > MAX_NAMES:
        lines.append(f"and {len(off) - MAX_NAMES} more symbols with their strategy off")
    escalations = entry.get("escalations") or []
    lines += [f"ESCALATION {e.get('symbol')}: {e.get('reason')}"
              for e in escalations[:MAX_NAMES]]
    if len(escalations) > MAX_NAMES:  # they were cut unsaid: 12 open read as 10
        lines.append(f"and {len(escalations) - MAX_NAMES} more escalations")
    # a position owed its emergency close, or closed with the fill not booked yet: what a
    # person must see during an escalation (the dump's table says so; /status said nothing)
    owed = entry.get("emergency_closes_owed") or []
    lines += [f"EMERGENCY CLOSE OWED {o.get('symbol')}"
              f"{'' if o.get('listed', True) else ' (not in symbols.list)'}: "
              f"{_owed_next(o)}"
              for o in owed[:MAX_NAMES]]
    if len(owed) > MAX_NAMES:
        lines.append(f"and {len(owed) - MAX_NAMES} more emergency closes owed")
    unbooked = entry.get("emergency_closes_not_booked") or []
    lines += [f"EMERGENCY CLOSE SENT {u.get('symbol')}: its fill not booked yet (the symbol's "
              "actor is stopped)" for u in unbooked[:MAX_NAMES]]
    if len(unbooked) > MAX_NAMES:
        lines.append(f"and {len(unbooked) - MAX_NAMES} more emergency closes not booked")
    if entry.get("database"):  # its text dates the escalations shown (database_fields)
        lines.append(f"DATABASE {str(entry['database'])[:200]}")
    lines += _streams(entry.get("streams"))
    r = int(h.get("restoring_symbols") or 0)
    if r:
        lines.append(f"restoring {r} symbol{'s' if r != 1 else ''} (not counted yet)")
    return lines


def _positions(actors: list[dict[str, Any]]) -> list[str]:
    """A line per open position, a hedge grid's per leg, as the page's table has them (found
    by review: the reply had only "open 2 (protected 1)", not which one was without its stop,
    though the README promised each account's positions)."""
    legs = []
    for a in actors:
        p = a.get("position")
        if not isinstance(p, dict):
            continue
        for leg in p.get("legs") or [{**p, "stop_price": a.get("stop_price"),
                                       "protected": a.get("protected")}]:
            legs.append((bool(leg.get("protected")), a.get("symbol"), leg,
                         _price_age(mark_age(a))))
    legs.sort(key=lambda x: x[0])  # stable: the unprotected first, then in the status's order
    lines = [f"{symbol} {leg.get('side')} {leg.get('contracts')} @ {leg.get('entry_price')}, "
             f"stop {leg.get('stop_price') or '-'}{'' if protected else ' NOT PROTECTED'}, "
             f"uPnL {leg.get('unrealized_pnl') or '-'}{age}"
             for protected, symbol, leg, age in legs[:MAX_POSITIONS]]
    if len(legs) > MAX_POSITIONS:
        lines.append(f"and {len(legs) - MAX_POSITIONS} more positions")
    return lines


def _price_age(age: Any) -> str:
    """` (price 600 s old)` after a uPnL from a price older than ``OLD_PRICE_S`` (found by
    review: with the feed down, a REST outage in REST mode, the reply said nothing else and
    the figure read as current)."""
    if not isinstance(age, (int, float)) or isinstance(age, bool) or age < OLD_PRICE_S:
        return ""
    return f" (price {age:.0f} s old)"


def _streams(st: Any) -> list[str]:
    """The page's stream warnings (dashboard/static/app.js ``accountWarnings``)."""
    if not isinstance(st, dict):
        return []
    lines = []
    if st.get("mode") != "stream" or not st.get("connected"):
        age = st.get("last_message_age_s")
        lines.append(f"STREAMS DOWN: mode {st.get('mode')}, connected "
                     f"{'yes' if st.get('connected') else 'no'}, last message "
                     f"{f'{age:.1f} s' if isinstance(age, (int, float)) else '-'} ago"
                     f"{_stream_error(st)}")
    if st.get("silent_symbols"):
        lines.append(f"no stream price for {st['silent_symbols']} symbol(s), polled by REST"
                     f"{_names(list(st.get('silent') or []))}")
    return lines


def _stream_error(st: dict[str, Any]) -> str:
    """` (last error at 2026-12-06 12:00:01 UTC: ...)`: the streams' last error outlives its
    outage, so it says when it happened (found by review: an error of hours before read as the
    cause of a connection gone silent now); one of a status without its time says so."""
    error = str(st.get("last_error") or "")[:200]
    if not error:
        return ""
    at, when = st.get("last_error_at"), "time unknown"
    if isinstance(at, (int, float)) and not isinstance(at, bool) and math.isfinite(at):
        with contextlib.suppress(OverflowError, OSError, ValueError):  # a hand edit's number
            when = time.strftime("at %Y-%m-%d %H:%M:%S UTC", time.gmtime(at))  # an error
            # of yesterday read as one of an hour ago with the time of day alone
    return f" (last error {when}: {error})"


def _names(symbols: list[str]) -> str:
    if not symbols:
        return ""
    more = len(symbols) - MAX_NAMES
    return ": " + ", ".join(symbols[:MAX_NAMES]) + (f" and {more} more" if more > 0 else "")
