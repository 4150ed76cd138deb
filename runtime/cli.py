"""The command implementations behind bot.py. Startup errors become one line and exit code 2."""

from __future__ import annotations

import argparse
import json
import sys
import threading
from decimal import Decimal, InvalidOperation
from pathlib import Path

from config.errors import ConfigError
from config.loader import load_settings
from config.settings import Settings
from observability.log_streams import symbol_log_path
from observability.log_tail import follow, tail_lines
from runtime.wiring import StartupError
from storage.database import StorageError
from supervision.instance_lock import AlreadyRunning, is_locked
from supervision.status import read_status, render_table

EXIT_STARTUP = 2
EXIT_LOCKED = 3


def fail(message: str, code: int = EXIT_STARTUP) -> int:
    print(f"bot.py: error: {message}", file=sys.stderr)
    return code


def dispatch(args: argparse.Namespace) -> int:
    command = args.command or "run"
    try:
        settings = load_settings(args.config, data_dir_override=args.data_dir)
        data_dir = settings.data_dir_path(args.data_dir)
        if command == "run":
            return _run(settings, data_dir, args.duration)
        if command == "status":
            return _status(data_dir, args.json)
        if command == "logs":
            return _logs(data_dir, args.symbol, args.follow, args.lines)
        if command in ("resume", "signal"):
            return _control(settings, data_dir, args)
    except ConfigError as exc:
        return fail(str(exc))
    except AlreadyRunning as exc:
        return fail(str(exc), EXIT_LOCKED)
    except (StartupError, StorageError) as exc:
        return fail(str(exc))
    except Exception as exc:  # noqa: BLE001 - one clear line; the traceback goes to the bot log
        from loguru import logger

        logger.opt(exception=exc).error("unexpected error in {}", command)
        return fail(f"unexpected {type(exc).__name__}: {exc} (traceback in logs/bot.log)")
    return fail(f"unknown command {command}")


def _run(settings: Settings, data_dir: Path, duration: float | None) -> int:
    from runtime.runner import Bot  # deferred: pulls in pykka, ccxt, peewee

    if duration is not None and duration <= 0:
        return fail("--duration must be > 0 seconds")
    return Bot(settings, data_dir).run(duration)


def _status(data_dir: Path, as_json: bool) -> int:
    status = read_status(data_dir)
    if status is None:
        return fail(f"no status yet in {data_dir} (has the bot run with this data dir?)")
    status["bot"]["running"] = is_locked(data_dir / "bot.lock")
    print(json.dumps(status, indent=2, default=str) if as_json else render_table(status))
    return 0


def _logs(data_dir: Path, symbol: str, follow_: bool, lines: int) -> int:
    logs_dir = data_dir / "logs"
    path = logs_dir / "bot.log" if symbol == "bot" else symbol_log_path(logs_dir, symbol)
    if not path.exists():
        return fail(f"no log for {symbol!r} at {path}")
    for line in tail_lines(path, lines):
        print(line, end="" if line.endswith("\n") else "\n")
    if follow_:
        stop = threading.Event()
        try:
            for line in follow(path, stop):
                print(line, end="" if line.endswith("\n") else "\n", flush=True)
        except KeyboardInterrupt:
            stop.set()
    return 0


def _control(settings: Settings, data_dir: Path, args: argparse.Namespace) -> int:
    from storage import control
    from storage.repository import Repository

    if args.symbol not in settings.symbols.list:
        return fail(f"{args.symbol!r} is not in symbols.list of {args.config}")
    extra: dict[str, object] = {}
    if args.command == "signal":
        extra["side"] = args.side
        if args.size is not None:
            try:
                extra["size_usdt"] = str(Decimal(args.size))
            except InvalidOperation:
                return fail(f"--size: expected a number of USDT (got {args.size!r})")
    repo = Repository(settings.resolve(settings.storage.path) if not args.data_dir else
                      data_dir / settings.storage.path, synchronous=settings.storage.synchronous)
    try:
        control.request(repo, args.command, args.symbol, by="cli", **extra)
    finally:
        repo.close()
    running = is_locked(data_dir / "bot.lock")
    where = "the running bot applies it within a second" if running else "applied when the bot next starts"
    print(f"{args.command} {args.symbol}: queued; {where}")
    return 0
