"""`bot.py resume` and `bot.py signal`: a control request checked and queued in the account's
control table (storage/control.py), which the running bot (or its next start) applies."""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

from config.loader import configured_data_dir
from config.settings import Settings
from runtime.cli import UsageError, fail, pick_account, signal_size
from supervision.instance_lock import is_locked


def _cluster_database(settings: Settings, account: str) -> Path | None:
    """A cluster node's account database in cluster.shared_dir, where the node reads its
    controls (None: the account's own storage, as a bot outside a cluster has it)."""
    if not (settings.cluster.enabled and settings.cluster.shared_dir):
        return None
    from runtime.cluster_node import node_settings

    return Path(node_settings(settings)[settings.account_names().index(account)].storage.path)


def _control_args(settings: Settings, args: argparse.Namespace) -> dict[str, object]:
    """The control row's args (UsageError for a bad --size). A signal carries `expires_at`
    (storage/control.py SIGNAL_TTL_S): the bot drops it, journaled, when it meets it later (a
    signal queued while the bot is stopped must not trade days later at the next start)."""
    from storage.control import SIGNAL_TTL_S

    now = time.time()
    extra: dict[str, object] = {"by": "cli", "requested_at": round(now, 3)}
    if args.command == "signal":
        extra["side"] = args.side
        extra["expires_at"] = round(now + SIGNAL_TTL_S, 3)
        if args.size is not None and args.side == "exit":
            # found by review: taken and ignored, an exit closes the whole position (a user
            # asking for a partial close got a full one)
            raise UsageError("--size: only with long or short (exit closes the whole "
                             "position); nothing queued")
        if args.size is not None:
            extra["size_usdt"] = str(signal_size(args.size, settings.signals.max_size_usdt))
    return extra


BOT_MARKS = ("bot.lock", "bot.sqlite", "status.json", "logs", "locks", "accounts")
"""What any bot that ran on a data dir leaves there (one of them at least)."""


def not_a_data_dir(path: Path) -> bool:
    """A folder that holds files but nothing a bot leaves (BOT_MARKS): not a bot's data dir.
    An empty one may be made for a first run; a missing or unreadable one is said elsewhere."""
    try:
        names = set(os.listdir(path))
    except OSError:
        return False
    return bool(names) and not names & set(BOT_MARKS)


def control_command(settings: Settings, data_dir: Path, args: argparse.Namespace) -> int:
    """`bot.py resume` / `bot.py signal`: the request checked, queued in the account's control
    table, and where it is applied said in one line (exit 0), or one error line (non-zero)."""
    problem = _data_dir_problem(data_dir, args)
    if problem is not None:
        return fail(problem)
    try:
        name, shared, account, extra = _request(settings, args)
    except UsageError as exc:
        return fail(str(exc))
    # where the bot keeps it (`--data-dir` is already the settings' data dir; resolve expands
    # a `~` that joining it to the data dir left as a folder named "~")
    db_path = shared or account.resolve(account.storage.path)
    queued = _queue(account, name, db_path, data_dir, args, extra)
    if isinstance(queued, int):
        return queued
    print(_queued(settings, account, name, data_dir, args, *queued))
    return 0


def _data_dir_problem(data_dir: Path, args: argparse.Namespace) -> str | None:
    """A `--data-dir` that is no bot's data dir (nor the configured one): refused, so a typo
    never creates a bot database nobody reads."""
    configured = configured_data_dir(args.config)
    if args.data_dir and not os.path.isdir(data_dir) and data_dir != configured:
        # a typo must not create a new bot's dir (the configured one: queued before a first run)
        return (f"--data-dir: no bot data dir at {data_dir} (no such directory, and not "
                f"bot.data_dir {configured}; nothing queued)")
    if args.data_dir and data_dir != configured and not_a_data_dir(data_dir):
        # found by review: the folder above the data dir (`--data-dir /srv/bot`) got a new
        # bot.sqlite and "queued; applied when the bot next starts", which no bot ever read
        return (f"--data-dir: no bot data dir at {data_dir} (it holds files but no bot's: "
                f"no {', '.join(BOT_MARKS)}; and not bot.data_dir {configured}; nothing "
                "queued)")
    return None


def _request(settings: Settings, args: argparse.Namespace
             ) -> tuple[str, Path | None, Settings, dict[str, object]]:
    """The account, its cluster database (if any), its settings and the control row's args;
    UsageError for a symbol it does not trade or a signal to a hedge grid."""
    from signals.parsing import did_you_mean

    name = pick_account(settings, args.account, required=True)
    assert name is not None
    shared = _cluster_database(settings, name)
    account = settings.for_account(name)
    if args.symbol not in account.symbol_list:
        where = f"symbols.list of account {name}" if settings.has_accounts else "symbols.list"
        hint = did_you_mean(args.symbol, account.symbol_list)
        raise UsageError(f"{args.symbol!r} is not in {where} of {args.config}{hint}")
    if args.command == "signal" and account.strategy.name == "hedge_grid":
        raise UsageError(f"signal: account {name}'s hedge grid trades its own levels and "
                         "takes no signals (it would be journaled SignalSkipped); nothing "
                         "queued")
    return name, shared, account, _control_args(account, args)


def _queue(account: Settings, name: str, db_path: Path, data_dir: Path,
           args: argparse.Namespace, extra: dict[str, object]) -> int | tuple[int, bool]:
    """The control row written ((its id, True)), a resume still pending from before ((its id,
    False): storage/control.py SAME; run twice, two resumes were queued), or the refusal's
    exit code: a resume of a symbol that is not stopped, a database that cannot take the write
    or cannot be made. A signal is never taken for another: each is its own (`cli-<id>`)."""
    from runtime.emergency import OWED
    from storage import control
    from storage.opening import open_repository

    if args.command == "resume" and not account.storage.url:
        refusal = control.not_stopped(args.symbol, OWED + args.symbol, db_path=db_path)
        if refusal is not None:
            return fail(refusal)
    once = args.command != "signal"  # each `bot.py signal` is its own (`cli-<id>`)
    if not account.storage.url and control.database_made(db_path):
        # the bot made it: one short write up front, never "database is locked"
        try:
            if not once:
                return control.request_at(db_path, args.command, args.symbol, extra), True
            return control.request_at_once(db_path, args.command, args.symbol, extra)
        except control.ControlWriteFailed as exc:
            return fail(str(exc))
    # PostgreSQL (row writes never meet a file lock) or a bot that never ran here
    from runtime.runner import data_dir_problem  # where the database would be created
    if not account.storage.url and (problem := data_dir_problem(data_dir)) is not None:
        return fail(f"{problem}; nothing queued")
    repo = open_repository(account.storage, path=db_path, account=name)
    try:
        if args.command == "resume" and (refusal := control.not_stopped(
                args.symbol, OWED + args.symbol, repo=repo)) is not None:
            return fail(refusal)
        if not once:
            return control.request(repo, args.command, args.symbol, **extra), True
        return control.request_once(repo, args.command, args.symbol, **extra)
    finally:
        repo.close()


def worker_not_serving(data_dir: Path, account: str | None = None,
                       worker: int | None = None) -> str | None:
    """With `run --workers N`: why `account`'s worker does not apply controls now (down and
    waiting for its restart, hung, still starting, its status stale), as the parent's last
    `status.json` says (or worker number `worker`'s: `bot.py logs worker-2`); None when it
    runs (or the bot is not running, has no workers, or no readable status).
    Found by review: with the worker killed and waiting out its backoff, `signal` said "the
    running bot applies it within 1 s"; it was applied only after the restart."""
    from runtime.status_cli import status_dump

    try:
        status = status_dump(data_dir)
    except (ValueError, OSError):
        return None
    if status is None or status["bot"].get("starting") or not status["bot"].get("running"):
        return None  # a previous run's workers, or none running
    workers = status["bot"].get("workers")
    for w in workers if isinstance(workers, list) else []:
        if not isinstance(w, dict) or not (account in (w.get("accounts") or [])
                                           or (worker is not None and w.get("index") == worker)):
            continue
        who = f"worker {worker}" if account is None else f"account {account}'s worker {w['index']}"
        if w.get("killed") or w.get("hung"):
            return f"{who} is hung and being stopped for a restart"
        if not w.get("alive"):
            last = w.get("last_exit")
            died = "is down" if last is None else f"is down (last exit {last})"
            return f"{who} {died}, restarted by the parent after its backoff (bot.py status)"
        if w.get("version") is None:
            return f"{who} is still starting (restore, reconcile)"
        if w.get("stale"):
            return f"{who} has written no status for {w.get('snapshot_age_s')} s (stuck?)"
    return None


def _queued(settings: Settings, account: Settings, name: str, data_dir: Path,
            args: argparse.Namespace, cid: int, new: bool) -> str:
    """The line saying it is queued and who applies it when: the running bot within its
    status round, the cluster node holding the account, or the next start."""
    from storage import control

    # its run loop's round (found by review: "within a second" whatever was configured)
    within = f"within {account.bot.status_interval_s:g} s (bot.status_interval_s)"
    if settings.cluster.enabled:  # the node holding it may run on another machine
        where = (f"the cluster node holding account {name} applies it {within} "
                 "(bot.py cluster shows which node; while none holds it: when one takes it)")
    elif not is_locked(data_dir / "bot.lock"):
        where = "applied when the bot next starts"
    elif (worker := worker_not_serving(data_dir, name)) is not None:
        where = f"{worker}: its run loop applies it {within} once it runs again"
    else:
        where = f"the running bot applies it {within}"
    if args.command == "signal":
        where += (f" (a signal expires {control.SIGNAL_TTL_S:g} s after it is queued: "
                  "later it is dropped, not traded)")
    target = f"{args.symbol} (account {name})" if settings.has_accounts else args.symbol
    if not new:  # the one asked before is still pending: that one is carried out, once
        return (f"{args.command} {target}: already queued (control {cid}, still pending), "
                f"not queued again; {where}")
    return f"{args.command} {target}: queued (control {cid}); {where}"
