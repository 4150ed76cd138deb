"""The JSON API's handlers (aiohttp). Database reads and control writes run on the executor,
so a slow disk never stalls the event loop (and with it the live updates)."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import Callable
from concurrent.futures import Executor, ThreadPoolExecutor
from decimal import Decimal
from functools import partial
from typing import Any

import peewee as pw
from aiohttp import web

from dashboard.controls import BadControl, Unconfirmed, not_traded, queue_control
from dashboard.equity import EquityCurves
from dashboard.source import AccountNotReady, DashboardSource
from notifications.secret import one_line
from observability.log_tail import tail_lines
from storage import reports
from storage.errors import StorageError
from storage.writer import WriterStopped
from trading.primitives import money_text

MAX_LOG_LINES = 500
NO_STATUS = "no status yet (the bot has not written status.json)"
WHO = web.RequestKey("who", str)
"""How a control request authenticated (set by the server's guard), journaled as ``by``."""


def dumps(value: Any) -> str:
    return json.dumps(value, default=str)


def reply(data: Any, status: int = 200) -> web.Response:
    return web.json_response(data, status=status, dumps=dumps,
                             headers={"Cache-Control": "no-store"})


def error(status: int, reason: str) -> web.Response:
    return reply({"status": "error", "reason": reason}, status)


async def off_loop(fn: Callable[..., Any], *args: Any, executor: Executor | None = None) -> Any:
    return await asyncio.get_running_loop().run_in_executor(executor, partial(fn, *args))


async def json_body(request: web.Request, expected: str) -> Any:
    """The body as JSON, or a 400 naming what was ``expected``. JSON nested too deeply is one
    too: json's decoder recurses per level, and its RecursionError would be a 500 with a
    traceback on stderr (the login form is open to anyone who reaches the dashboard). So is a
    ``charset`` Python does not know (``application/json; charset=bogus``): a LookupError."""
    try:
        return await request.json()
    except (ValueError, LookupError):  # not JSON, not in its charset, an unknown charset
        reason = f"body: expected {expected}"
    except RecursionError:
        reason = f"body: expected {expected} (JSON nested too deeply)"
    raise web.HTTPBadRequest(text=dumps({"status": "error", "reason": reason}),
                             content_type="application/json")


MAX_INT = 2**63 - 1
"""The largest integer SQLite holds: a larger offset or id is a 400, never an OverflowError."""


def _int(request: web.Request, key: str, default: int | None, low: int = 0) -> int | None:
    """The query's integer ``key`` (``default`` when absent), or a 400 naming it and its range
    ``low``..MAX_INT. A 0 means 0: `lines=0` answered the default 100 lines (found by review)."""
    raw = request.query.get(key)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        value = low - 1
    if not low <= value <= MAX_INT:
        raise web.HTTPBadRequest(text=dumps({"status": "error", "reason": f"{key}: expected an "
                                             f"integer {low}..{MAX_INT}"}),
                                 content_type="application/json")
    return value


DATABASE_ERRORS = (pw.PeeweeException, sqlite3.Error, StorageError, WriterStopped, TimeoutError)
"""What an account's database may raise when it cannot be read or written (locked past the busy
timeout, an I/O error, its writer stopped or late): a 503 naming it, never a 500 traceback."""


READ_THREADS = 4
"""Threads of the views' database reads. A database that does not answer holds each read up to
its deadline (PostgreSQL: 10 s); on the loop's own executor the page's reads (every 5 s, each
account) filled it, and the status, the live stream, ``/metrics``, the log tail and controls
waited behind them: the page stopped updating exactly when the database was down."""


class Api:
    def __init__(self, source: DashboardSource, refusals: Any = None) -> None:
        """``refusals``: a ThrottledLog (dashboard/throttle.py) for database errors."""
        self.source, self.refusals = source, refusals
        self.reads = ThreadPoolExecutor(READ_THREADS, thread_name_prefix="dashboard-read")
        self.curves: dict[str, EquityCurves] = {}
        """Each account's equity curve, shared by every page (dashboard/equity.py)."""

    def _database_error(self, request: web.Request, exc: BaseException) -> web.HTTPException:
        """A JSON 503 naming the error, and a throttled WARNING (the page polls several views:
        one ERROR traceback each was a flood)."""
        reason = one_line(f"database error: {str(exc).strip() or type(exc).__name__}", 200)
        if self.refusals is not None:
            self.refusals.warning("database error", "dashboard: {} {}: {}", request.method,
                                  repr(request.path[:60]), reason)
        return web.HTTPServiceUnavailable(text=dumps({"status": "error", "reason": reason}),
                                          content_type="application/json")

    def close(self) -> None:
        """At stop: reads still queued are dropped (a hung one ends at its deadline)."""
        self.reads.shutdown(wait=False, cancel_futures=True)

    def routes(self) -> list[web.RouteDef]:
        return [web.get("/api/status", self.status), web.get("/api/trades", self.trades),
                web.get("/api/journal", self.journal), web.get("/api/equity", self.equity),
                web.get("/api/logs", self.logs), web.post("/api/control", self.control)]

    def _account(self, request: web.Request) -> Any:
        try:
            # `?account=` is one left out, as README's templates write it (it was a 404)
            return self.source.account(request.query.get("account") or None)
        except KeyError as exc:
            raise web.HTTPNotFound(text=dumps({"status": "error", "reason": exc.args[0]}),
                                   content_type="application/json") from None

    async def status(self, request: web.Request) -> web.Response:
        status, problem = await off_loop(self.source.read)
        if status is None:
            return error(503, problem or NO_STATUS)
        return reply(status)

    async def _read(self, request: web.Request, account: Any, query: Any, *args: Any) -> Any:
        try:
            return await off_loop(account.repo.read, query, *args, executor=self.reads)
        except AccountNotReady as exc:
            raise web.HTTPServiceUnavailable(text=dumps({"status": "error", "reason": str(exc)}),
                                             content_type="application/json") from None
        except DATABASE_ERRORS as exc:
            raise self._database_error(request, exc) from None

    async def trades(self, request: web.Request) -> web.Response:
        account = self._account(request)
        rows = await self._read(request, account, reports.trades, _int(request, "limit", 50),
                                _int(request, "offset", 0), request.query.get("symbol") or None)
        money = ("realized_pnl", "fees", "net_pnl")  # Decimals: str() wrote "0E-8" for a 0
        return reply({"account": account.name, "trades": [
            {**row, **{k: money_text(row[k]) for k in money if isinstance(row.get(k), Decimal)}}
            for row in rows]})

    async def journal(self, request: web.Request) -> web.Response:
        account = self._account(request)
        rows = await self._read(request, account, reports.journal,
                                request.query.get("symbol") or None,
                                _int(request, "before_id", None), _int(request, "limit", 50))
        more = rows[-1]["id"] if rows else None
        return reply({"account": account.name, "events": rows, "next_before_id": more})

    async def equity(self, request: web.Request) -> web.Response:
        account = self._account(request)
        curve = self.curves.get(account.name)
        if curve is None:  # on the event loop: no other handler runs in between
            curve = self.curves[account.name] = EquityCurves(account.capital)
        points = await self._read(request, account, curve.points, _int(request, "points", 500, 1))
        return reply({"account": account.name, "capital": money_text(account.capital),
                      "points": points})

    async def logs(self, request: web.Request) -> web.Response:
        account = self._account(request)
        symbol = request.query.get("symbol", "")
        if symbol not in account.symbols:
            return error(404, not_traded(account, symbol))
        lines = min(_int(request, "lines", 100) or 0, MAX_LOG_LINES)
        path = account.log_path(symbol)
        try:
            text = await off_loop(tail_lines, path, lines) if lines else []
        except OSError as exc:  # permissions, a directory in its place: was a 500 + traceback
            reason = f"log file {path.name} cannot be read ({exc.strerror or exc})"
            if self.refusals is not None:
                self.refusals.warning("log unreadable", "dashboard: {}", reason)
            return error(503, reason)
        return reply({"account": account.name, "symbol": symbol,
                      "lines": [line.rstrip("\n") for line in text]})

    async def control(self, request: web.Request) -> web.Response:
        body = await json_body(request, "a JSON object")
        if not isinstance(body, dict):
            return error(400, "body: expected a JSON object")
        if not isinstance(body.get("account"), str | None):
            return error(400, "account: expected a string")
        try:
            account = self.source.account(body.get("account"))
        except KeyError as exc:
            return error(404, exc.args[0])
        try:
            result = await off_loop(queue_control, account, body, request[WHO])
        except BadControl as exc:
            return error(400, str(exc))
        except AccountNotReady as exc:
            return error(503, str(exc))
        except Unconfirmed as exc:
            return reply({"status": "unconfirmed", "reason": str(exc)}, 503)
        except DATABASE_ERRORS as exc:
            raise self._database_error(request, exc) from None
        return reply(result, 202)
