"""The parent's record of each worker (`Worker`) and its `status.json` from their own snapshots
(`status.worker-<k>.json`).

`bot.py status` reads one file as before: the parent merges each worker's accounts with
`combine_status` and adds `bot.workers` (PID, alive, accounts, restarts, last exit code). A
snapshot counts only when written by the worker's current process (its `bot.pid`) and while its
`heartbeat_at` keeps changing: one unchanged for `stale_after_s` (the parent's monotonic clock)
is stale, its worker shown `stale` and its accounts `worker_alive: false`, both with the
snapshot's age. Until the restarted process writes one, the last snapshot of the dead one (the
last it wrote: read after its exit too) is shown, each of its accounts marked `worker_alive:
false`, so a dead worker's accounts never vanish from the dump, and the parent's final status
holds what each worker wrote after its actors stopped."""

from __future__ import annotations

import json
import os
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from loguru import logger

from runtime.workers_role import worker_status_name
from supervision.restart_policy import RestartHistory, RestartPolicy, Verdict
from supervision.status import combine_status

STALE_INTERVALS = 3
STALE_MIN_S = 2.0
"""A snapshot is stale after max(STALE_MIN_S, STALE_INTERVALS x bot.status_interval_s)."""


def stale_after(status_interval_s: float) -> float:
    return max(STALE_MIN_S, STALE_INTERVALS * status_interval_s)


@dataclass(slots=True, kw_only=True)
class Worker:
    """The parent's record of one worker process (mutable: it is the parent's own bookkeeping)."""

    index: int
    accounts: tuple[str, ...]
    proc: subprocess.Popen[bytes] | None = None
    started_at: float | None = None
    restarts: int = 0
    last_exit: int | None = None
    restart_at: float | None = None
    history: RestartHistory = field(default_factory=RestartHistory)
    last_status: dict[str, Any] | None = None
    """The worker's last snapshot written by its current or an earlier process."""
    snapshot_seen: float | None = None
    """When (monotonic) the parent first read `last_status`'s heartbeat."""
    beat_fd: int | None = None
    """The read end of the current process's heartbeat pipe (workers_role.open_beat)."""
    beat_at: float | None = None
    """When (monotonic) the current process's last heartbeat arrived; None: none yet."""
    ready: bool = False
    """A process of this worker finished starting (its first heartbeat arrived)."""
    stop_at: float | None = None
    spawned_mono: float | None = None
    """When (monotonic) the parent spawned the current process."""
    """A hung worker told to stop: when (monotonic) SIGKILL follows."""
    killed_at: float | None = None
    """When (monotonic) the parent SIGKILLed the current process (runtime/workers_reap.py)."""
    unreaped_told: bool = False
    given_up: bool = False
    """The parent stopped the bot for this worker (past the intensity, or a fatal exit)."""
    refused: str | None = None
    """Why its snapshot file was last not believed (logged once per problem)."""

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def serving(self) -> bool:
        """Alive and not given up by the parent: a worker found hung (told to stop) or killed
        is not shown alive, nor its accounts current, while its process has not exited (found
        by review: `alive` until its snapshot went stale, and after that until it was reaped,
        which for a process in state D may be never)."""
        return self.alive() and self.stop_at is None

    def info(self) -> dict[str, Any]:
        age = self.beat_age(time.monotonic())
        return {
            "index": self.index,
            "pid": self.pid,
            "alive": self.serving(),
            "hung": self.stop_at is not None and self.alive(),
            "killed": self.killed_at is not None and self.alive(),
            "given_up": self.given_up,
            "accounts": list(self.accounts),
            "started_at": self.started_at,
            "restarts": self.restarts,
            "last_exit": self.last_exit,
            "heartbeat_at": None,
            "version": None,
            "process_started_at": None,
            "snapshot_current": False,
            "snapshot_age_s": None,
            "stale": False,
            "beat_age_s": None if age is None else round(age, 1),
        }

    def read_beats(self, now: float) -> None:
        """Take what the pipe holds; any byte is a heartbeat at `now` (monotonic)."""
        while self.beat_fd is not None:
            try:
                data = os.read(self.beat_fd, 65536)
            except BlockingIOError:
                return
            if not data:
                return  # the process closed its end: it is exiting
            if self.beat_at is None:  # its first: it runs (stable_after_s counts from here)
                self.history.started(now)
            self.beat_at = now
            self.ready = True

    def close_beats(self) -> None:
        fd, self.beat_fd = self.beat_fd, None
        if fd is not None:
            os.close(fd)

    def not_counting(self, gap_s: float) -> None:
        """The parent stood still for `gap_s`: its heartbeat and start clocks skip that time."""
        if self.beat_at is not None:
            self.beat_at += gap_s
        if self.spawned_mono is not None:
            self.spawned_mono += gap_s

    def beat_age(self, now: float) -> float | None:
        return None if self.beat_at is None else now - self.beat_at

    def on_failure(self, policy: RestartPolicy, now: float, how: str,
                   last: str) -> tuple[Verdict, str]:
        """One failure (an exit, a refused start; `how`: died, failed): the restart verdict and
        its alert's message ("" when none): past the intensity the parent stops everything; a
        slower loop (more than max_restarts failures without stable_after_s of running between
        them, which never escalates) is told once per loop, as an actor's `crash_loop` is."""
        verdict = self.history.on_failure(policy, now)
        who = f"worker {self.index} (accounts {','.join(self.accounts)})"
        if verdict.escalate:
            return verdict, (f"{who} {how} more than {policy.max_restarts} times within "
                             f"{policy.period_s:g} s ({last}); stopping every worker")
        if verdict.crash_loop:
            return verdict, (f"{who} {how} {self.history.consecutive} times without running "
                             f"{policy.stable_after_s:g} s in between; restarting every "
                             f"{verdict.delay_s:g} s; {last}")
        return verdict, ""

    def see(self, snapshot: dict[str, Any], mono: float) -> None:
        """A snapshot of the current process; its age restarts when its heartbeat changed."""
        last = self.last_status
        if last is None or last["bot"].get("heartbeat_at") != snapshot["bot"].get("heartbeat_at"):
            self.snapshot_seen = mono
        self.last_status = snapshot

    def snapshot_age(self, mono: float) -> float:
        return 0.0 if self.snapshot_seen is None else max(mono - self.snapshot_seen, 0.0)


def read_worker_status(data_dir: Path, worker: Any) -> dict[str, Any] | None:
    """The worker's snapshot when its current process wrote it, else None. A file that cannot
    be read or is not a snapshot (a hand edit, a damaged disk; JSON nested too deep for the
    parser was a RecursionError) is not believed: one warning naming it per problem, and the
    worker's accounts keep their last snapshot, as while it is not written yet."""
    if worker.pid is None:
        return None  # not started (yet): any file there is an earlier run's
    path = data_dir / worker_status_name(worker.index)
    try:
        status = json.loads(path.read_text())
    except FileNotFoundError:
        return None  # not written yet (a half-replaced file is impossible: atomic rename)
    except (OSError, ValueError, RecursionError) as exc:  # RecursionError: nested too deep
        reason = "nested too deep to read" if isinstance(exc, RecursionError) else exc
        _refuse(worker, path, f"not readable ({reason})")
        return None
    if not isinstance(status, dict) or not isinstance(status.get("bot"), dict):
        _refuse(worker, path, "not a status snapshot ('bot' is not an object)")
        return None
    if status["bot"].get("pid") != worker.pid:
        return None
    problem = _shape_problem(status, worker.accounts)
    if problem is not None:
        _refuse(worker, path, problem)
        return None
    worker.refused = None
    return status


def _shape_problem(status: dict[str, Any], accounts: tuple[str, ...]) -> str | None:
    """What in a snapshot the merge cannot read, or None."""
    entries = status.get("accounts") or {}
    if not isinstance(entries, dict):
        return "'accounts' is not an object"
    for name in accounts:
        entry = entries.get(name)
        if entry is None:
            continue
        if not isinstance(entry, dict) or "kill_switch" not in entry \
                or not _counts(entry.get("health")):
            return f"account {name!r} is not an account's status (kill_switch, health counts)"
        for key in ("actors", "escalations"):
            items = entry.get(key)
            if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
                return f"account {name!r}: {key!r} is not a list of objects"
    return None


def _counts(health: Any) -> bool:
    """The health counts the merge adds up are whole numbers (the last two may be absent)."""
    if not isinstance(health, dict):
        return False
    values = (health.get("open_positions"), health.get("protected_positions"),
              health.get("unreadable_symbols", 0), health.get("restoring_symbols", 0))
    return all(type(v) is int for v in values)


def _refuse(worker: Any, path: Path, problem: str) -> None:
    if problem != worker.refused:
        worker.refused = problem
        logger.warning("{}: {}; not believed (worker {}'s accounts keep their last snapshot)",
                       path, problem, worker.index)


def merge_status(
    data_dir: Path,
    bot: dict[str, Any],
    workers: list[Any],
    now: float,
    *,
    grouped: bool,
    mono: float | None = None,
    stale_after_s: float = STALE_MIN_S,
) -> dict[str, Any]:
    """`now`: wall clock; `mono`: the monotonic clock the snapshots' ages are counted on."""
    mono = time.monotonic() if mono is None else mono
    per_account: dict[str, dict[str, Any]] = {}
    current: dict[int, bool] = {}
    ages: dict[int, float] = {}
    for worker in workers:
        alive = worker.serving()
        # read after its exit too: a worker's last snapshot is written once its actors stopped
        # (the fills booked meanwhile); its process is gone, so it is never shown as live
        fresh = read_worker_status(data_dir, worker)
        if fresh is not None:
            worker.see(fresh, mono)
        snapshot = worker.last_status
        if snapshot is None:
            current[worker.index] = False
            continue
        age = ages[worker.index] = worker.snapshot_age(mono)
        stale = alive and fresh is not None and age > stale_after_s
        current[worker.index] = alive and fresh is not None and not stale
        for name, entry in (snapshot.get("accounts") or {}).items():
            if name in worker.accounts:
                per_account[name] = _aged(entry, age)
        _worker_row(bot, worker, snapshot, age, stale=stale, current=current[worker.index])
    # the configured order, whichever worker answered first
    ordered = {n: per_account[n] for n in bot.get("accounts", []) if n in per_account}
    status = combine_status(bot, ordered, now, grouped=grouped)
    _mark_accounts(status, workers, current, ages)
    return status


def _worker_row(bot: dict[str, Any], worker: Any, snapshot: dict[str, Any], age: float, *,
                stale: bool, current: bool) -> None:
    """The bot's row of this worker: its heartbeat, the code its process runs and how current
    its snapshot is."""
    for info in bot.get("workers", []):
        if info["index"] == worker.index:
            info["heartbeat_at"] = snapshot["bot"].get("heartbeat_at")
            # the code the worker's process runs: a restarted worker loads what is on disk,
            # so the process before it says nothing of it (found by review: its version and
            # start showed beside the new PID until the new one wrote its first status)
            ours = snapshot["bot"].get("pid") == worker.pid
            info["version"] = snapshot["bot"].get("version") if ours else None
            info["process_started_at"] = snapshot["bot"].get("started_at") if ours else None
            info["snapshot_current"] = current
            info["snapshot_age_s"] = round(age, 1)
            info["stale"] = stale


def _mark_accounts(status: dict[str, Any], workers: list[Any], current: dict[int, bool],
                   ages: dict[int, float]) -> None:
    """Each account's entry names its worker and whether it is alive; a stale or dead
    worker's entries say how old its last snapshot is."""
    for worker in workers:
        for name in worker.accounts:
            entry = status["accounts"].get(name)
            if entry is not None:
                entry["worker"] = worker.index
                entry["worker_alive"] = current[worker.index]
                if not current[worker.index]:  # a stale or dead worker's last snapshot
                    entry["snapshot_age_s"] = round(ages[worker.index], 1)


def _aged(entry: dict[str, Any], age: float) -> dict[str, Any]:
    """A copy of a snapshot's account entry, its actors' tick ages and its streams' last
    message age counted to now."""
    actors = []
    for actor in entry.get("actors", []):
        actor = dict(actor)
        for key in ("last_tick_age_s", "price_age_s"):
            if isinstance(actor.get(key), (int, float)):
                actor[key] = round(actor[key] + age, 3)
        actors.append(actor)
    aged = {**entry, "actors": actors,
            "escalations": [dict(e) for e in entry.get("escalations", [])]}
    streams = entry.get("streams")  # found by review: a hung worker's read "0.1 s ago"
    if isinstance(streams, dict) and isinstance(streams.get("last_message_age_s"), (int, float)):
        aged["streams"] = {**streams, "last_message_age_s": round(
            streams["last_message_age_s"] + age, 3)}
    return aged


def settle_liveness(status: dict[str, Any], running: bool) -> None:
    """`bot.py status` after the bot is gone (stopped, or killed before it could say so): no
    worker is alive, no actor runs and no stream is connected, whatever the last snapshot said.
    Each actor's state in that snapshot stays readable as `last_state`, a stream's connection as
    `last_connected`; price and message ages are unknown (found by review: a killed bot's
    streams read `connected yes  last message 0.1 s ago`)."""
    if running:
        return
    for info in status.get("bot", {}).get("workers", []):
        info["alive"] = False
        info.pop("hung", None)  # the parent that found it so is gone: nothing is known now
        info.pop("killed", None)
    sections = [status, *status.get("accounts", {}).values()]
    for entry in sections[1:]:
        if "worker_alive" in entry:
            entry["worker_alive"] = False
    for entry in sections:
        for actor in entry.get("actors", []):
            actor["last_state"], actor["state"] = actor.get("state"), "stopped"
            actor["last_tick_age_s"] = actor["price_age_s"] = None
        streams = entry.get("streams")
        if isinstance(streams, dict):
            streams["last_connected"], streams["connected"] = streams.get("connected"), False
            streams["last_message_age_s"] = None


def worker_lines(status: dict[str, Any]) -> list[str]:
    """One line per worker under the status table (nothing for the one-process bot)."""
    lines = []
    for w in status.get("bot", {}).get("workers", []):
        state = "alive" if w["alive"] else "down"
        if w.get("killed"):
            state = "KILLED (not exited yet)"
        elif w.get("hung"):
            state = "HUNG (told to stop)"
        if w["alive"] and w.get("stale"):
            state = f"stale (no status for {w['snapshot_age_s']:.1f} s)"
        if w.get("given_up"):
            state = "GIVEN UP (the bot stopped for it)"
        exit_code = "" if w.get("last_exit") is None else f"  last exit {w['last_exit']}"
        version = w.get("version")
        code = "" if version is None else f"  version {version}"
        if version is not None and version != status["bot"].get("version"):
            code += f" (NOT the parent's {status['bot'].get('version')}: started on other code)"
        lines.append(
            f"worker {w['index']}: {state}  pid {w['pid']}  accounts {','.join(w['accounts'])}"
            f"  restarts {w['restarts']}{exit_code}{code}"
        )
    failure = status.get("bot", {}).get("failure")
    if lines and failure:  # found by review: read as a clean stop after the parent gave up
        lines.append(f"bot stopped on a worker fault: {failure}")
    return lines
