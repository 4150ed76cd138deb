"""`bot.py status`: the last status snapshot the bot wrote, as a table or JSON. A file that cannot
be read, is not JSON or is not shaped like a status (another tool's file, a truncated copy) is
one line naming it, never a traceback."""

from __future__ import annotations

import errno
import json
import time
from pathlib import Path
from typing import Any

from supervision.instance_lock import holder_pid, is_locked
from supervision.status import AHEAD_TOLERANCE_S, read_status, render_table


def status_dump(data_dir: Path, stale_after_s: float | None = None) -> dict[str, Any] | None:
    """What `bot.py status --json` shows (None: no status yet): the last snapshot, whether a bot
    runs, liveness settled when none does. A bot holding the lock that has not written its
    first snapshot yet (starting) is `starting`, with its PID: the snapshot is a previous
    run's (`previous_run`: pid, version, started_at, heartbeat_at), whose actors run no more.
    A bot that is not running (``running`` false: no process holds the lock) gets ``stale``:
    false after a graceful stop, which writes a final snapshot saying ``running: false``; true
    when the snapshot still says ``running: true``: the bot ended without stopping (killed,
    out of memory, a power loss) and this is its last snapshot while it ran (found by review:
    it read exactly as a graceful stop). A running bot gets ``stale`` (with ``stale_after_s``,
    the dashboard's threshold) true once its heartbeat is older than that, or ahead of this
    host's clock: its loop no longer writes (stuck, or the process stopped). Raises
    ValueError/OSError for an unreadable file or one that is not a status."""
    status = read_status(data_dir)
    if status is None:
        return None
    if not isinstance(status, dict) or not isinstance(status.get("bot"), dict):
        raise ValueError("not a status: no 'bot' section")
    lock = data_dir / "bot.lock"
    written_running = status["bot"].get("running") is not False
    running = status["bot"]["running"] = is_locked(lock)
    if not running:  # its final snapshot says running false; a killed bot's last one true
        status["bot"]["stale"] = written_running
    holder = holder_pid(lock) if running else None
    starting = holder is not None and holder != status["bot"].get("pid")
    if starting:  # found by review: the last run's pid, version and actors read as running
        bot = status["bot"]
        bot["previous_run"] = {k: bot.pop(k, None)
                               for k in ("pid", "version", "started_at", "heartbeat_at")}
        bot["pid"], bot["starting"] = holder, True
    if starting or not running:
        status["bot"].pop("dashboard", None)  # served by the running bot only
    elif stale_after_s is not None:
        status["bot"]["stale"] = _beat_stale(status["bot"].get("heartbeat_at"), stale_after_s)
    from runtime.workers_status import settle_liveness

    try:
        settle_liveness(status, running and not starting)
        if starting or not running:
            _settle_owed(status)
            _settle_node(status)
    except (KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"not a status: malformed {exc!s:.80}") from None
    return status


def _beat_stale(beat: Any, stale_after_s: float) -> bool:
    """A running bot's heartbeat is older than ``stale_after_s``, ahead of this host's clock
    (set back since: its age is unknown), or no time at all."""
    if isinstance(beat, bool) or not isinstance(beat, (int, float)):
        return True
    age = time.time() - beat
    return age > stale_after_s or age < -AHEAD_TOLERANCE_S


def _settle_owed(status: dict[str, Any]) -> None:
    """The bot is gone (or a new one starts): no emergency close of the snapshot runs or waits
    to run again, the next start runs it (found by review: the snapshot's "running" and "next
    try" read as live after the bot had stopped)."""
    for section in [status, *(status.get("accounts") or {}).values()]:
        for owed in section.get("emergency_closes_owed") or []:
            owed["running"], owed["next_retry_at"] = False, None


def _settle_node(status: dict[str, Any]) -> None:
    """A cluster node that is gone (or a new one that has not written yet) holds no account:
    what its last snapshot held moves to `last_accounts` (found by review: a node killed with
    kill -9 read as still holding its accounts at their epochs, taken over by others since)."""
    node = (status.get("cluster") or {}).get("this_node")
    if isinstance(node, dict) and isinstance(node.get("accounts"), dict):
        node["last_accounts"], node["accounts"] = node["accounts"], {}


def show_status(data_dir: Path, as_json: bool, account: str | None,
                stale_after_s: float | None = None) -> str | None:
    """Print the status; the one-line problem instead when there is none to show."""
    path = data_dir / "status.json"
    try:
        status = status_dump(data_dir, stale_after_s)
    except (ValueError, OSError) as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        reason = exc.strerror if isinstance(exc, OSError) else (
            str(exc) if str(exc).startswith("not a status") else f"not valid JSON: {exc}")
        return (f"{path}: cannot read the status ({reason}); a running bot rewrites it every "
                "bot.status_interval_s")
    if status is None:
        if is_locked(data_dir / "bot.lock"):  # its first start: no snapshot before this one
            pid = holder_pid(data_dir / "bot.lock")
            return (f"no status yet in {data_dir}: the bot (PID {pid or 'unknown'}) is starting "
                    "and has not written its first one; try again in a moment")
        return f"no status yet in {data_dir} (has the bot run with this data dir?)"
    from runtime.workers_status import worker_lines

    accounts = status.get("accounts", {})
    if account is not None:
        if not isinstance(accounts, dict) or account not in accounts:
            configured = status["bot"].get("accounts")
            if isinstance(configured, list) and account in configured:  # run --workers N
                where = ("its worker process has not written its first status"
                         if status["bot"].get("workers") else "no status of it yet")
                return (f"--account: account {account!r} has not reported yet ({where}; try "
                        "again in a moment)")
            known = ", ".join(accounts) if isinstance(accounts, dict) else ""
            return f"--account: no account {account!r} in the status (accounts: {known or 'none'})"
        if as_json:
            status = {"bot": status["bot"], **accounts[account]}
    try:
        text = (json.dumps(status, indent=2, default=str) if as_json
                else render_table(status, account))
        workers = [] if as_json else list(worker_lines(status))
    except (KeyError, TypeError, AttributeError, ValueError, OverflowError) as exc:
        return _unshowable(path, exc)
    except OSError as exc:  # a time the platform's clock functions refuse (EOVERFLOW)
        if exc.errno != errno.EOVERFLOW:
            raise
        return _unshowable(path, exc)
    if status["bot"].get("starting") and not as_json:
        before = status["bot"]["previous_run"]
        print(f"bot PID {status['bot']['pid']} is starting and has not written its status yet; "
              f"below: the last status of the previous run (PID {before['pid']}, version "
              f"{before['version']}), whose actors run no more")
    print(text)
    for line in workers:  # run --workers N: each worker's liveness
        print(line)
    return None


def _unshowable(path: Path, exc: Exception) -> str:
    """A status that reads as JSON but cannot be shown: a field missing or malformed, or a time
    outside the platform's range (found by review: `started_at` 1e300 or -1e18 said
    `unexpected OverflowError in status`, as for a bug)."""
    return (f"{path}: cannot show the status (missing or malformed {exc!s:.80}); a running "
            "bot rewrites it every bot.status_interval_s")
