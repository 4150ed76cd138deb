"""The parent's `status.json` from its workers' own snapshots (`status.worker-<k>.json`).

`bot.py status` reads one file as before: the parent merges each worker's accounts with
`combine_status` and adds `bot.workers` (PID, alive, accounts, restarts, last exit code). A
snapshot counts only when written by the worker's current process (its `bot.pid`); until the
restarted process writes one, the last snapshot of the dead one is shown, each of its accounts
marked `worker_alive: false`, so a dead worker's accounts never vanish from the dump."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from runtime.workers_role import worker_status_name
from supervision.status import combine_status


def read_worker_status(data_dir: Path, worker: Any) -> dict[str, Any] | None:
    """The worker's snapshot when its current process wrote it, else None."""
    path = data_dir / worker_status_name(worker.index)
    try:
        status = json.loads(path.read_text())
    except (OSError, ValueError):
        return None  # not written yet (or a half-replaced file is impossible: atomic rename)
    if not isinstance(status, dict) or status.get("bot", {}).get("pid") != worker.pid:
        return None
    return status


def merge_status(
    data_dir: Path, bot: dict[str, Any], workers: list[Any], now: float, *, grouped: bool
) -> dict[str, Any]:
    per_account: dict[str, dict[str, Any]] = {}
    for worker in workers:
        fresh = read_worker_status(data_dir, worker) if worker.alive() else None
        if fresh is not None:
            worker.last_status = fresh
        snapshot = worker.last_status
        if snapshot is None:
            continue
        alive = fresh is not None
        for name, entry in (snapshot.get("accounts") or {}).items():
            if name in worker.accounts:
                per_account[name] = {
                    **entry,
                    "actors": [dict(a) for a in entry.get("actors", [])],
                    "escalations": [dict(e) for e in entry.get("escalations", [])],
                }
        for info in bot.get("workers", []):
            if info["index"] == worker.index:
                info["heartbeat_at"] = snapshot["bot"].get("heartbeat_at")
                info["snapshot_current"] = alive
    # the configured order, whichever worker answered first
    ordered = {n: per_account[n] for n in bot.get("accounts", []) if n in per_account}
    status = combine_status(bot, ordered, now, grouped=grouped)
    for worker in workers:
        current = worker.alive() and worker.last_status is not None and (
            worker.last_status["bot"].get("pid") == worker.pid
        )
        for name in worker.accounts:
            if name in status["accounts"]:
                status["accounts"][name]["worker"] = worker.index
                status["accounts"][name]["worker_alive"] = current
    return status


def settle_liveness(status: dict[str, Any], running: bool) -> None:
    """`bot.py status` after the parent is gone: no worker is alive, whatever it last wrote."""
    if running:
        return
    for info in status.get("bot", {}).get("workers", []):
        info["alive"] = False
    for entry in status.get("accounts", {}).values():
        if "worker_alive" in entry:
            entry["worker_alive"] = False


def worker_lines(status: dict[str, Any]) -> list[str]:
    """One line per worker under the status table (nothing for the one-process bot)."""
    lines = []
    for w in status.get("bot", {}).get("workers", []):
        state = "alive" if w["alive"] else "down"
        exit_code = "" if w.get("last_exit") is None else f"  last exit {w['last_exit']}"
        lines.append(
            f"worker {w['index']}: {state}  pid {w['pid']}  accounts {','.join(w['accounts'])}"
            f"  restarts {w['restarts']}{exit_code}"
        )
    return lines
