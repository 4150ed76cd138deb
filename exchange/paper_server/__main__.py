"""`python -m exchange.paper_server --port N --store FILE`: serve one shared paper exchange.

API keys: PAPER_SERVER_API_KEY and PAPER_SERVER_API_SECRET from the environment, else the
keys file (`--keys`, default `paper_server_keys.json` next to the store; created with random
keys, mode 0600, on first start). The secret is never printed or logged.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import socket
import sqlite3
import stat
import sys
from decimal import Decimal, InvalidOperation
from pathlib import Path

from aiohttp import web
from loguru import logger

from exchange import errors
from exchange.paper.exchange import PaperExchange
from exchange.paper.prices import GeneratorPriceSource
from exchange.paper.store import PositionModeMismatch, StoreUnreadable
from exchange.paper_server.app import build_app
from exchange.paper_server.auth import ApiKeys
from exchange.paper_server.bybit_api import BybitApi
from observability.log_format import say
from runtime.exchanges import paper_epoch_ms
from runtime.private_files import PRIVATE_UMASK, make_files_private
from runtime.startup_error import StartupError
from storage.atomic_file import atomic_write_text
from supervision.instance_lock import FileInUse, FileLock, LockFileError

DEFAULT_SYMBOLS = "BTC/USDT:USDT,ETH/USDT:USDT,SOL/USDT:USDT,XRP/USDT:USDT"


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m exchange.paper_server",
                                     description="Serve a shared paper exchange (Bybit v5).")
    parser.add_argument("--port", type=int, required=True, help="TCP port to listen on")
    parser.add_argument("--store", type=Path, required=True, help="paper exchange SQLite file")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--symbols", default=DEFAULT_SYMBOLS, help="comma-separated symbols")
    parser.add_argument("--balance", default="10000", help="starting balance in USDT")
    parser.add_argument("--seed", type=int, default=1, help="price generator seed")
    parser.add_argument("--step-ms", type=int, default=250, help="price step in ms")
    parser.add_argument("--hedge-mode", action="store_true", help="hedge position mode")
    parser.add_argument("--keys", type=Path, default=None, help="API keys file (JSON)")
    return parser.parse_args(argv)


class UsageError(Exception):
    """A startup problem reported as one line (exit 2), never a traceback."""


def load_keys(path: Path) -> ApiKeys:
    key, secret = os.environ.get("PAPER_SERVER_API_KEY"), os.environ.get("PAPER_SERVER_API_SECRET")
    if key and secret:
        return ApiKeys(secrets={key: secret})
    if key or secret:  # one alone fell back to the keys file (or new keys) without a word
        given = "PAPER_SERVER_API_KEY" if key else "PAPER_SERVER_API_SECRET"
        raise UsageError(f"{given} is set but not its pair: set PAPER_SERVER_API_KEY and "
                         "PAPER_SERVER_API_SECRET both, or neither (the keys file is used then)")
    # empty: a start killed between creating the file and writing it (the next start refused
    # it as "not a keys file" for good); no key was ever handed out from it
    if not path.exists() or path.stat().st_size == 0:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        if not path.exists():
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))  # mode first
        keys = {"api_key": "paper-" + secrets.token_hex(8), "api_secret": secrets.token_hex(24)}
        atomic_write_text(path, json.dumps(keys) + "\n")
        logger.info("paper server: new API keys written to {}", path)
    try:
        data = json.loads(path.read_text())
        api_keys = ApiKeys(secrets={str(data["api_key"]): str(data["api_secret"])})
    except (ValueError, KeyError, TypeError) as exc:
        raise UsageError(f"{path}: not a keys file (JSON with api_key and api_secret): "
                         f"{type(exc).__name__}") from None
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:  # as the bot refuses such a secrets file
        raise UsageError(f"{path}: mode {mode:04o} lets other users read or change the API "
                         f"secret; must be 0600 (run: chmod 600 {path})")
    return api_keys


def open_exchange(args: argparse.Namespace, lock: FileLock) -> PaperExchange:
    try:
        balance = Decimal(args.balance)
    except InvalidOperation:
        raise UsageError(f"--balance: not a number: {args.balance!r}") from None
    if not balance.is_finite() or balance <= 0:  # a new store would keep it for good
        raise UsageError(f"--balance: must be a finite number of USDT > 0, got {args.balance!r}")
    symbols = [s.strip() for s in args.symbols.split(",") if s.strip()]
    if not symbols:  # a server with no market refuses every order as BadSymbol
        raise UsageError(f"--symbols: no symbol given (got {args.symbols!r})")
    # one process per store (rule 1), as the bot locks its paper store: a second server (or a
    # bot) on it would keep its own copy of the account and write the same ids into the file
    try:
        lock.acquire()  # FileInUse: exit 3
    except LockFileError as exc:
        raise UsageError(f"--store {exc}") from None
    # the umask makes a new store 0600; one already readable by others (an older version's,
    # a copy) is tightened with its -wal/-shm, as the bot tightens its own (found by review)
    for problem in make_files_private([args.store]):
        logger.warning("paper server: {}", problem)
    try:
        source = GeneratorPriceSource(seed=args.seed, step_ms=args.step_ms,
                                      epoch_ms=paper_epoch_ms(args.store))
        return PaperExchange(store_path=args.store, symbols=symbols, price_source=source,
                             starting_balance=balance, hedge_mode=args.hedge_mode,
                             starting_balance_key="--balance")
    except PositionModeMismatch as exc:
        raise UsageError(f"--hedge-mode: {exc}") from None
    except (StartupError, StoreUnreadable) as exc:  # a store that cannot be read, named in
        raise UsageError(str(exc)) from None  # the line (StoreUnreadable was a traceback)
    except errors.ExchangeError as exc:
        raise UsageError(f"--symbols: {exc}") from None
    except (sqlite3.Error, OSError) as exc:
        raise UsageError(f"--store {args.store}: {exc}") from None
    except ValueError as exc:
        raise UsageError(f"--step-ms / --symbols: {exc}") from None


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    os.umask(PRIVATE_UMASK)  # the store and its -wal/-shm are the user's alone, as the bot's
    if not 0 <= args.port <= 65535:  # the bind's OverflowError was a traceback
        say(f"paper server: --port: must be 0..65535, got {args.port}")
        return 2
    lock = FileLock(args.store)
    try:
        return _run(args, lock)
    except FileInUse as exc:
        holder = f"PID {exc.pid}" if exc.pid is not None else "an unknown PID"
        say(f"paper server: --store {args.store}: another paper server or bot is using it "
            f"({holder} holds a lock on it)")
        return 3
    finally:
        lock.release()  # after the store's connections are closed (see FileLock)


def _run(args: argparse.Namespace, lock: FileLock) -> int:
    try:
        keys = load_keys(args.keys or args.store.parent / "paper_server_keys.json")
        exchange = open_exchange(args, lock)
    except (UsageError, OSError) as exc:
        say(f"paper server: {exc}")
        return 2
    try:
        return serve(args, exchange, keys)
    except OSError as exc:  # e.g. the port is taken
        exchange.close()
        say(f"paper server: --host {args.host} --port {args.port}: {exc.strerror or exc}")
        return 2


def serve(args: argparse.Namespace, exchange: PaperExchange, keys: ApiKeys) -> int:
    app = build_app(BybitApi(exchange), keys)

    async def close_exchange(_: web.Application) -> None:
        exchange.close()
        logger.info("paper server: stopped, store {} closed", args.store)

    app.on_cleanup.append(close_exchange)
    if args.port == 0:  # the kernel picks a free port; this log line names it
        sock = bind_any_port(args.host)
        logger.info("paper server: {} on http://{}:{} (store {})", ", ".join(exchange.symbols),
                    args.host, sock.getsockname()[1], args.store)
        web.run_app(app, sock=sock, print=None, access_log=None)
        return 0
    logger.info("paper server: {} on http://{}:{} (store {})", ", ".join(exchange.symbols),
                args.host, args.port, args.store)
    web.run_app(app, host=args.host, port=args.port, print=None, access_log=None)
    return 0


def bind_any_port(host: str) -> socket.socket:
    """A listening socket on `host` (its first address) and a port the kernel chose: no
    other process can take that port between choosing and binding it."""
    family, kind, proto, _, address = socket.getaddrinfo(host, 0, type=socket.SOCK_STREAM)[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.bind(address)
        sock.listen()
    except OSError:
        sock.close()
        raise
    return sock


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
