"""The command implementations behind bot.py. Startup errors become one line and exit code 2."""

from __future__ import annotations

import argparse
import math
import os
import time
from decimal import Decimal, InvalidOperation
from pathlib import Path

from config.errors import ConfigError
from config.loader import load_settings, located
from config.settings import Settings
from config.types import unknown_home_option
from observability.log_files import LogFileError
from observability.log_format import UtcClock, escaped, say, traceback_text
from runtime import shutdown
from runtime.private_files import PRIVATE_UMASK
from runtime.startup_error import StartupConfigError, StartupError
from runtime.status_cli import show_status
from runtime.workers_role import MAIN_LOG, ProcessRole, worker_log_name
from storage.errors import StorageError
from supervision.instance_lock import AlreadyRunning, LockFileError

EXIT_STARTUP = 2
EXIT_LOCKED = 3


def fail(message: str, code: int = EXIT_STARTUP) -> int:
    say(f"bot.py: error: {escaped(message)}")  # a file's bytes too
    return code


def dispatch(args: argparse.Namespace) -> int:
    os.umask(PRIVATE_UMASK)  # every command's files too (a control queued before the first run)
    command = args.command or "run"
    problem = run_only_problem(args) or given_twice(args)
    if problem is not None:
        return fail(problem)
    if command in ("backtest", "download"):
        from backtest.cli import dispatch as backtest_dispatch

        return backtest_dispatch(args)
    problem = check_arguments(args)
    if problem is not None:
        return fail(problem)
    data_dir: Path | None = None
    try:
        settings = load_settings(args.config, data_dir_override=args.data_dir,
                                 copy=getattr(args, "config_copy", None))
        data_dir = settings.data_dir_path(args.data_dir)
        if os.path.exists(data_dir) and not os.path.isdir(data_dir):  # never raises
            return fail(
                f"data dir {data_dir} is a file, expected a directory (bot.data_dir or --data-dir)"
            )
        routed = _route(command, settings, data_dir, args)
        if routed is not None:
            return routed
    except BrokenPipeError:
        return shutdown.reader_gone()
    except ConfigError as exc:
        copy = getattr(args, "config_copy", None)
        return fail(located(str(args.config), str(exc), Path(copy) if copy else None))
    except AlreadyRunning as exc:
        return fail(str(exc), EXIT_LOCKED)
    except (StartupError, StorageError, LockFileError, LogFileError) as exc:
        return fail(str(exc))
    except Exception as exc:  # noqa: BLE001 - one clear line; the traceback goes to the bot log
        from exchange.paper.store import StoreUnreadable

        if isinstance(exc, StoreUnreadable):
            return fail(str(exc))
        # a worker's traceback goes to its own log: logs/bot.log is its parent's (run --workers)
        index = getattr(args, "index", None) if command == "worker" else None
        log = None if index is None else worker_log_name(index)
        return fail(unexpected(exc, command, data_dir, log))
    return fail(f"unknown command {command}")


def _route(command: str, settings: Settings, data_dir: Path,
           args: argparse.Namespace) -> int | None:
    """The command run with its settings and data dir: its exit code, None for a command
    nobody handles (dispatch says so). Errors are turned into one line by dispatch."""
    if command == "run":
        return _run(settings, data_dir, args.duration, args.workers or 1, args.config)
    if command == "worker":
        return _worker(settings, data_dir, args)
    if command == "status":
        from dashboard.source import stale_after

        problem = show_status(data_dir, args.json, args.account,
                              stale_after(settings.bot.status_interval_s))
        return 0 if problem is None else fail(problem)
    if command == "logs":
        from runtime.logs_cli import show_logs

        return show_logs(settings, data_dir, args.symbol, args.follow, args.lines,
                         args.account)
    if command in ("resume", "signal"):
        from runtime.control_cli import control_command

        return control_command(settings, data_dir, args)
    if command == "cluster":
        from runtime.cluster_node import show_cluster

        return show_cluster(settings, args.json)
    return None


COMMANDS_LOG = "commands.log"
"""Where an operator command (status, logs, signal, resume, cluster) appends the traceback of
an unexpected error: logs/bot.log belongs to the bot that may be running on the data dir, and a
second process must not write into it (found by review)."""


def unexpected(exc: BaseException, command: str, data_dir: Path | None,
               log: str | None = None) -> str:
    """The one line for an error nobody foresaw, and its traceback appended to logs/`log`
    directly (the bot's log sink is already closed by then), saying where it really went.
    ``log`` None: logs/bot.log for `run` (its own), logs/commands.log for any other command."""
    import traceback

    if log is None:
        log = MAIN_LOG if command == "run" else COMMANDS_LOG
    text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__, chain=False))
    line = f"unexpected {type(exc).__name__} in {command}: {exc}"
    if data_dir is None:
        return f"{line} (no data dir yet, so no traceback was written)"
    path = data_dir / "logs" / log
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            # as the streams write a line with a traceback: one line, escaped, then the
            # traceback, whose lines never read as log lines (log_format.traceback_text)
            os.write(
                fd,
                f"{UtcClock().format(time.time())} | CRITICAL | - | {escaped(line)}\n"
                f"{traceback_text(text)}".encode("utf-8", "backslashreplace"),
            )
        finally:
            os.close(fd)
    except OSError as write_error:
        return f"{line} (the traceback could not be written to {path}: {write_error.strerror})"
    return f"{line} (traceback in {path})"


def run_only_problem(args: argparse.Namespace) -> str | None:
    """``--duration`` or ``--workers`` given with a command other than run (found by review:
    `bot.py --duration 5 status` was accepted and the option silently ignored), or None."""
    command = args.command or "run"
    for option in ("duration", "workers"):
        if command != "run" and getattr(args, option, None) is not None:
            return f"--{option}: only with run (not with {command})"
    return None


def given_twice(args: argparse.Namespace) -> str | None:
    """One line for the first option given twice with different values (before and after the
    subcommand, or twice after it): argparse kept the last one silently, so `--config a.toml
    status --config b.toml` or `signal ... --size 50 --size 5000` used a value the user may not
    have meant (found by review). The same value twice is accepted. None when there is none."""
    first: dict[str, tuple[str, object]] = {}
    for option, dest, value in getattr(args, "given_options", ()):
        if dest in first and first[dest][1] != value:
            return (f"{option}: given twice with different values ({first[dest][1]}, then "
                    f"{value}); give it once")
        first.setdefault(dest, (option, value))
    return None


def check_arguments(args: argparse.Namespace) -> str | None:
    """Values argparse lets through but that mean nothing (one line naming the option), or None."""
    config = getattr(args, "config", None)
    if config is not None and not str(config).strip():  # found by review: ".: is a directory"
        return "--config: must not be empty (omit it to use config.toml)"
    data_dir = getattr(args, "data_dir", None)
    if data_dir is not None and not str(data_dir).strip():
        return "--data-dir: must not be empty (omit it to use bot.data_dir from the config)"
    problem = unknown_home_option((("--config", getattr(args, "config", None)),
                                   ("--data-dir", data_dir)))
    if problem is not None:
        return problem
    duration = getattr(args, "duration", None)
    if duration is not None and not (math.isfinite(duration) and duration > 0):
        return f"--duration: must be a finite number of seconds > 0 (got {duration})"
    workers = getattr(args, "workers", None)
    if workers is not None and workers < 1:
        return f"--workers: must be a whole number >= 1 (got {workers})"
    lines = getattr(args, "lines", None)
    if lines is not None and lines < 0:
        return f"-n/--lines: must be >= 0 (got {lines})"
    return None


def _run(
    settings: Settings, data_dir: Path, duration: float | None, workers: int, config: str
) -> int:
    problem = startup_problem(settings, data_dir)
    if problem is not None:
        return fail(problem)
    if workers > 1 and settings.cluster.enabled:
        # each worker would run as a whole node and find the parent's lock on the data dir:
        # "another bot is already running" naming our own pid, then the parent exits 1
        return fail(f"--workers {workers}: not with cluster.enabled = true (a cluster node "
                    "runs its accounts by lease: start more nodes, each with its own data dir, "
                    "instead of worker processes)")
    if workers > 1:
        from runtime.workers import WorkerParent

        return WorkerParent(settings, data_dir, workers=workers, config=Path(config)).run(duration)
    from runtime.runner import Bot  # deferred: pulls in pykka, ccxt, peewee

    return Bot(settings, data_dir).run(duration)


def _worker(settings: Settings, data_dir: Path, args: argparse.Namespace) -> int:
    """One worker process of `run --workers N`: its accounts, in the one-process bot's code."""
    from runtime.runner import Bot

    problem = startup_problem(settings, data_dir)
    if problem is not None:
        return fail(problem)
    role = worker_role(args, settings)
    if isinstance(role, int):
        return role
    return Bot(settings, data_dir, role).run(None)


def startup_problem(settings: Settings, data_dir: Path) -> str | None:
    """Before `run` takes any lock, one line for: a data dir or logs/ the bot cannot create or
    write (found by review: "unexpected OSError in run"), a live account's key variable set
    but empty or padded (config/secrets.py); an alert_command not found raises
    (`check_alert_command`)."""
    from config.secrets import credential_problem
    from runtime.runner import data_dir_problem  # deferred: pulls in pykka, loguru

    problem = data_dir_problem(data_dir) or credential_problem(settings)
    if problem is None:
        check_alert_command(settings)
    return problem


def check_alert_command(settings: Settings) -> None:
    """StartupConfigError for an account whose supervision.alert_command names a program that
    cannot be found or run (found by review: the start was silent, and the first alert, an
    escalation or the kill switch, was a WARNING that it had not been delivered), so the line
    names the config file and the key's line like every refusal for what the file says (it
    was printed bare). The arguments are never shown (they may hold a key)."""
    import shlex
    import shutil

    for index, account in enumerate(settings.account_settings()):
        command = account.supervision.alert_command
        program = shlex.split(command)[0] if command else None  # splittable: config checked
        if program is not None and shutil.which(program) is None:
            at = f"accounts[{index}]." if settings.has_accounts else ""
            raise StartupConfigError(
                f"{at}supervision.alert_command: program {program!r} not found or not "
                "executable (a path, or a name on $PATH); alerts could not be delivered")


def worker_role(args: argparse.Namespace, settings: Settings) -> ProcessRole | int:
    """The worker's ProcessRole from its command line (runtime/workers.py writes it), or the
    exit code of a one-line refusal."""
    accounts = tuple(a for a in args.accounts.split(",") if a)
    unknown = [a for a in accounts if a not in settings.account_names()]
    if unknown or not accounts:
        return fail(f"--accounts: unknown account(s) {', '.join(unknown) or '(none)'}")
    try:
        split = tuple((a, int(n)) for a, _, n in
                      (part.partition("=") for part in args.budget_split.split(",") if part))
    except ValueError:
        return fail(f"--budget-split: expected account=N,... (got {args.budget_split!r})")
    return ProcessRole(worker=args.index, accounts=accounts, parent_pid=args.parent_pid,
                       budget_split=split)


def signal_size(text: str, configured_cap: Decimal | None) -> Decimal:
    """``--size``: a finite number of USDT > 0 and <= the signal size cap; UsageError otherwise."""
    from signals.limits import size_cap

    try:
        size = Decimal(text.strip())
    except InvalidOperation:
        raise UsageError(f"--size: expected a number of USDT (got {text!r})") from None
    if not size.is_finite() or size <= 0:
        raise UsageError(f"--size: must be a finite number of USDT > 0 (got {text!r})")
    cap, cap_name = size_cap(configured_cap)
    if size > cap:
        raise UsageError(f"--size: {text} USDT is above {cap_name}")
    return size


class UsageError(Exception):
    """A command-line problem; the message is the one line users see."""


def _choices(settings: Settings) -> str:
    return ", ".join(settings.account_names())


def pick_account(
    settings: Settings, account: str | None, symbol: str | None = None, *, required: bool
) -> str | None:
    """The account a command acts on: ``--account`` (checked against the config), or the only
    one that fits. ``required``: a command that must name one when several are configured;
    otherwise the only account trading ``symbol`` is taken, and None means "no account"."""
    names = settings.account_names()
    if account is not None:
        if account not in names:
            raise UsageError(
                f"--account: unknown account {account!r} (choose from: {_choices(settings)})"
            )
        return account
    if len(names) == 1:
        return names[0]
    if symbol is not None and not required:
        owners = [a.bot.account for a in settings.account_settings() if symbol in a.symbol_list]
        if len(owners) == 1:
            return owners[0]
        if len(owners) > 1:
            raise UsageError(
                f"--account: required, {symbol} is traded by accounts {', '.join(owners)}"
            )
        return None
    if required:
        raise UsageError(
            f"--account: required when several accounts are configured "
            f"(choose from: {_choices(settings)})"
        )
    return None
