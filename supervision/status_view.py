"""``bot.py status`` as tables (rich): the bot line, each account's P&L summary and health
above its actors table, then failures, escalations and tripped protections."""

from __future__ import annotations

import io
import shutil
import sys
import time
from datetime import UTC, datetime
from typing import Any

from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from supervision.reconcile_watch import shown_unchecked
from supervision.status import AHEAD_TOLERANCE_S, EQUITY_LABEL, OLD_PRICE_S, mark_age


def render(status: dict[str, Any], account: str | None = None) -> str:
    tty = sys.stdout.isatty()
    width = max(shutil.get_terminal_size((160, 40)).columns, 120) if tty else 200
    console = Console(
        file=io.StringIO(), force_terminal=tty, width=width, highlight=False, no_color=not tty
    )
    bot = status["bot"]
    console.print(
        Text(
            f"bot: {_liveness(bot)}  pid {bot.get('pid')}  "
            f"mode {bot.get('mode')}  version {bot.get('version')}  "
            f"started {_ts(bot.get('started_at'))}"
            f"  heartbeat {_ts(bot.get('heartbeat_at'))}{_age(bot)}"
            f"{'  dashboard ' + bot['dashboard'] if bot.get('dashboard') else ''}",
            style="bold",
        )
    )
    if bot.get("stale") and not bot.get("starting"):
        console.print(_stale(bot))
    if (node := _node_line(status)) is not None:
        console.print(node)
    if not bot.get("accounts"):
        console.print(_section(status))
    else:
        h = status["health"]
        console.print(
            f"all accounts: {len(bot['accounts'])}  open {h['open_positions']}  "
            f"protected {h['protected_positions']}  ts_coverage {h['ts_coverage']:.0%}"
            f"{_unreadable(h)}"
        )
        for name, entry in status.get("accounts", {}).items():
            if account is not None and name != account:
                continue
            header = Text(f"\n== account {name} (exchange {entry.get('exchange')})",
                          style="bold cyan")
            if bot.get("running") and entry.get("worker_alive") is False:
                # run --workers: its worker is dead or stale, these are its last figures
                age = entry.get("snapshot_age_s")
                header.append(f"  WORKER {entry.get('worker')} NOT ALIVE: figures as of "
                              f"{'-' if age is None else f'{age:.0f}'} s ago", style="bold red")
            console.print(header)
            console.print(_section(entry))
        for name in bot["accounts"]:  # configured, but no figures (in none of the totals)
            if name not in status.get("accounts", {}) and account in (None, name):
                console.print(Text(f"\n== account {name}: NO FIGURES (its status was not read: "
                                   "a worker that has written none yet, or a failed status "
                                   "round); not counted above", style="bold red"))
    out = console.file.getvalue()  # type: ignore[attr-defined]
    return "\n".join(line.rstrip() for line in out.rstrip("\n").splitlines())


def _stale(bot: dict[str, Any]) -> Text:
    """The red line under a stale status's first line: killed, or running but stuck."""
    if not bot.get("running"):
        return Text("the bot ended without stopping (killed or crashed): below is its last "
                    "status while it ran, as of its heartbeat; its actors run no more",
                    style="bold red")
    beat = bot.get("heartbeat_at")
    age = (time.time() - beat if isinstance(beat, (int, float))
           and not isinstance(beat, bool) else -1.0)  # none, or ahead: unknown
    since = f"{age:.0f} s" if age >= 0 else "a time unknown"
    return Text(f"no status written for {since}: the bot holds its lock but its loop is stuck "
                "or its process is stopped; the figures below are as of its heartbeat",
                style="bold red")


def _node_line(status: dict[str, Any]) -> Text | None:
    """A cluster node's line: its id and the accounts it holds (found running a cluster by the
    README: a node holding none printed an empty table with `open 0`, as a bot trading
    nothing would, and nothing said where the accounts run)."""
    node = (status.get("cluster") or {}).get("this_node")
    if not isinstance(node, dict) or not node.get("node"):
        return None
    held, last = node.get("accounts") or {}, node.get("last_accounts") or {}
    what = ("holds " + ", ".join(f"{name} (epoch {lease['epoch']})"
                                 for name, lease in held.items()) if held
            else "holds no account" + (f" (held {', '.join(last)} when it last wrote)"
                                       if last else ""))
    return Text(f"cluster node {node['node']}: {what}; `bot.py cluster` shows every node "
                "and lease")


def _liveness(bot: dict[str, Any]) -> str:
    """`running`, `stopped` (a graceful stop), or a stale status: the bot was killed."""
    if bot.get("running"):
        return "running, STALE STATUS" if bot.get("stale") else "running"
    return "NOT RUNNING, STALE STATUS" if bot.get("stale") else "stopped"


def _unreadable(health: dict[str, Any]) -> str:
    """Symbols whose state could not be read, or is not restored yet: what they hold is not
    in open/protected."""
    n = health.get("unreadable_symbols", 0)
    out = f"  STATE UNREADABLE {n} symbol{'s' if n != 1 else ''} (not counted)" if n else ""
    r = health.get("restoring_symbols", 0)
    return out + (f"  restoring {r} symbol{'s' if r != 1 else ''} (not counted yet)" if r else "")


def _section(status: dict[str, Any]) -> Group:
    """One account's status: its P&L and health lines, what needs a person (unreconciled
    symbols, the database, streams, pauses, protections), its actors, then the actors'
    failures and the escalations and emergency closes, in that order."""
    parts: list[Any] = []
    pnl = _pnl(status.get("pnl"))
    if pnl is not None:
        parts.append(pnl)
    parts.append(_health(status))
    unchecked = shown_unchecked(status["actors"])
    if unchecked:  # position, stop and "protected" as the books last held them
        parts.append(Text(f"NOT RECONCILED with the exchange: {', '.join(unchecked)} (position "
                          "and stop as the books last held them; its answers fail, retried)",
                          style="bold red"))
    if status.get("database"):  # its text dates the escalations shown (database_fields)
        parts.append(Text(f"DATABASE {status['database']}", style="bold red"))
    if status.get("streams"):
        parts.append(_streams(status["streams"]))
    if status.get("entries_paused"):
        parts.append(Text(f"ENTRIES PAUSED by {status['entries_paused'].get('by')}", style="red"))
    for p in status.get("protections") or []:
        where = f" {p['symbol']}" if p.get("symbol") else ""
        parts.append(
            Text(
                f"PROTECTION {p['name']}{where}: {p['reason']} (since {_ts(p['tripped_since'])}"
                + (f", until {_ts(p['until'])})" if p.get("until") is not None else ")"),
                style="red",
            )
        )
    parts.append(_actors(status["actors"]))
    parts.extend(_actor_notes(status["actors"]))
    parts.extend(_closes(status))
    return Group(*parts)


def _pnl(pnl: dict[str, Any] | None) -> Text | None:
    """The P&L line: UNKNOWN while not read (no figure rather than zeros), in red while not
    current; None when the status has no P&L."""
    if pnl and pnl.get("unknown"):  # not read yet: no figure rather than zeros
        return Text(f"P&L: UNKNOWN ({pnl['unknown']})", style="bold red")
    if not pnl:
        return None
    rate = pnl.get("win_rate")
    return Text(
        f"P&L: realized today {pnl['realized_today']}  total {pnl['realized_total']}  "
        f"fees {pnl['fees']}  win rate {'-' if rate is None else f'{rate:.0%}'} "
        f"({_outcomes(pnl)})  {EQUITY_LABEL} {pnl['equity']}  "
        f"drawdown {pnl['drawdown']}"
        + (f"  P&L NOT CURRENT ({pnl['not_current']})" if pnl.get("not_current") else ""),
        style="bold red" if pnl.get("not_current") else "bold",
    )


def _health(status: dict[str, Any]) -> Text:
    """The health line, red when the kill switch is on, a position lacks its trailing stop
    or a symbol's state could not be read."""
    h = status["health"]
    kill = status.get("kill_switch")
    return Text(
        f"health: open {h['open_positions']}  protected {h['protected_positions']}  "
        f"ts_coverage {h['ts_coverage']:.0%}  kill_switch {'ON' if kill else 'off'}"
        f"{_kill_why(status) if kill else ''}"
        f"{_unreadable(h)}",
        style="bold red" if kill or h["ts_coverage"] < 1 or h.get("unreadable_symbols") else "",
    )


def _actor_notes(actors: list[dict[str, Any]]) -> list[Text]:
    """Under the actors' table: each actor's last failure and a strategy switched off."""
    parts: list[Text] = []
    for a in actors:
        if a.get("last_failure"):
            f = a["last_failure"]
            parts.append(
                Text(f"last failure {a['symbol']}: {f['where']}: {f['error']} at {_ts(f['time'])}")
            )
        if a.get("strategy_off"):
            parts.append(Text(f"STRATEGY OFF {a['symbol']}: {a['strategy_off']}", style="red"))
    return parts


def _closes(status: dict[str, Any]) -> list[Any]:
    """Last, in red: escalated symbols, emergency closes still owed, and emergency closes
    sent whose fill no running actor has booked yet."""
    parts: list[Any] = []
    for e in status.get("escalations", []):
        parts.append(
            Text(
                f"ESCALATION {e['symbol']}: {e['reason']} (attempts {e['attempts']}, "
                f"last error: {e['last_error']})",
                style="red",
            )
        )
    parts.extend(_owed(o) for o in status.get("emergency_closes_owed") or [])
    for n in status.get("emergency_closes_not_booked") or []:
        parts.append(Text(
            f"EMERGENCY CLOSE SENT {n['symbol']} at {_ts(n.get('sent_at'))}, ITS FILL NOT BOOKED:"
            f" the symbol's actor does not run now; its position, P&L and stop show as last "
            f"known until it runs again (quarantined: `bot.py resume {n['symbol']}`, or a "
            "restart)", style="bold red"))
    return parts


def _outcomes(pnl: dict[str, Any]) -> str:
    """Wins, draws (closes that netted exactly zero) and losses; a status written by a version
    that did not count draws apart has none."""
    draws = f"{pnl['draws']}D/" if "draws" in pnl else ""
    return f"{pnl['wins']}W/{draws}{pnl['losses']}L"


def _owed(o: dict[str, Any]) -> Text:
    """An emergency close still owed: the position may still be open on the exchange."""
    if not o.get("listed", True):
        when = "NOT RUN: its symbol is not in symbols.list (list it again, or close by hand)"
    elif o.get("next_retry_at") is not None:
        when = f"next try {_ts(o['next_retry_at'])}"
    else:
        when = "running" if o.get("running") else "not running now: the next start runs it"
    error = f", last error: {o['last_error']}" if o.get("last_error") else ""
    return Text(f"EMERGENCY CLOSE OWED {o['symbol']}: {o['reason']} (since {_ts(o.get('since'))}"
                f", failed runs {o.get('failed_runs', 0)}, {when}{error})", style="bold red")


def _streams(st: dict[str, Any]) -> Text:
    age = st.get("last_message_age_s")
    return Text(
        f"streams: mode {st['mode']}  connected {'yes' if st['connected'] else 'NO'}  "
        f"last message {'-' if age is None else f'{age:.1f} s'} ago  "
        f"reconnects {st['reconnects']}"
        + (f"  no stream price (REST): {', '.join(st.get('silent') or [])}"
           if st.get("silent_symbols") else ""),
        style="" if st["mode"] == "stream" and not st.get("silent_symbols") else "bold red",
    )


HEADER = (
    "SYMBOL",
    "STATE",
    "PHASE",
    "POSITION",
    "ENTRY",
    "MARK",
    "UPNL",
    "STOP",
    "TRAIL",
    "RST",
    "FAIL",
    "MBOX",
    "TICK",
)


def _actors(actors: list[dict[str, Any]]) -> Table:
    table = Table(box=None, pad_edge=False, header_style="bold")
    for name in HEADER:
        table.add_column(
            name, no_wrap=True, justify="right" if name in ("RST", "FAIL", "MBOX") else "left"
        )
    for a in actors:
        p = a.get("position") or {}
        t = a.get("trailing") or {}
        state_style = "" if a["state"] == "running" else "red"
        table.add_row(
            a["symbol"],
            Text(a["state"], style=state_style),
            a.get("phase") or "-",
            f"{p['side']} {p['contracts']}" if p else "-",
            str(p.get("entry_price") or "-"),
            _mark(p, mark_age(a)),
            str(p.get("unrealized_pnl") or "-"),
            str(a.get("stop_price") or "-"),
            f"{t['state']}@{t.get('trigger_price') or t.get('activation_price')}" if t else "-",
            str(a.get("restarts", 0)),
            str(a.get("close_failures", 0)),
            str(a.get("mailbox", 0)),
            "-" if a.get("last_tick_age_s") is None else f"{a['last_tick_age_s']:.1f}s",
        )
    return table


def _mark(position: dict[str, Any], age: Any) -> Text | str:
    """A position's mark, with its price's age in red once over ``OLD_PRICE_S`` (as /status
    and the page say it: found by review, the mark and uPnL read as current)."""
    mark = str(position.get("mark_price") or "-")
    if not position or not isinstance(age, (int, float)) or age < OLD_PRICE_S:
        return mark
    return Text(f"{mark} ({age:.0f} s old)", style="red")


def _kill_why(status: dict[str, Any]) -> str:
    """` (since <time>: <reason>)` of a kill switch that is on, when the dump has them."""
    if "kill_switch_reason" not in status:
        return ""
    return f" (since {_ts(status.get('kill_switch_at'))}: {status['kill_switch_reason']})"


def _ts(value: Any) -> str:
    if value is None:
        return "-"
    return datetime.fromtimestamp(float(value), tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _age(bot: dict[str, Any]) -> str:
    """` (12 s ago)` after a running bot's heartbeat: a bot whose loop stopped writing the
    snapshot still holds its lock, and its figures (states, tick ages) read as fresh without
    it. Nothing for a stopped bot (its heartbeat is when it was last alive)."""
    beat = bot.get("heartbeat_at")
    if not bot.get("running") or not isinstance(beat, (int, float)) or isinstance(beat, bool):
        return ""
    age = time.time() - beat
    if age < -AHEAD_TOLERANCE_S:  # found by review: read "(0 s ago)" until the clock caught up
        return (f" ({-age:.0f} s AHEAD of this host's clock: its age is unknown; the clock was "
                "set back, or the file is not the bot's)")
    return f" ({max(age, 0.0):.0f} s ago)"

