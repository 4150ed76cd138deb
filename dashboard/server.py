"""The dashboard's HTTP server: aiohttp on its own thread and event loop, bound at start (a port
in use is one line at startup, never a silently missing dashboard).

Routes: ``/`` and ``/static/*`` (the page), ``/api/*`` (JSON, see README), ``/api/events``
(server-sent events: the status snapshot every ``push_interval_s``), ``/metrics`` (Prometheus),
``/api/login`` / ``/api/logout`` / ``/api/session``. The token is never logged: aiohttp's access
log is off and our log lines name only the peer and the path.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from aiohttp import web

from dashboard.api import WHO, Api, dumps, error, off_loop, reply
from dashboard.auth import COOKIE, SESSION_TTL_S, Auth
from dashboard.source import DashboardSource

STATIC = Path(__file__).with_name("static")
PUBLIC = ("/", "/api/session", "/api/login", "/api/logout", "/favicon.ico")
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; "
                               "img-src 'self'; connect-src 'self'; base-uri 'none'; "
                               "form-action 'self'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class DashboardServer:
    def __init__(self, *, source: DashboardSource, auth: Auth, logger: Any,
                 metrics: Callable[[], bytes] | None = None, host: str = "127.0.0.1",
                 port: int = 0, push_interval_s: float = 1.0) -> None:
        self.source, self.auth, self.log, self.metrics = source, auth, logger, metrics
        self.push_interval_s = push_interval_s
        self._loop = asyncio.new_event_loop()
        self._closing = asyncio.Event()
        self._runner = web.AppRunner(self._app(), access_log=None, handle_signals=False,
                                     shutdown_timeout=1.0)
        self._loop.run_until_complete(self._runner.setup())
        site = web.TCPSite(self._runner, host, port)
        try:
            self._loop.run_until_complete(site.start())
        except OSError:
            self._loop.run_until_complete(self._runner.cleanup())
            self._loop.close()
            raise
        sockets = getattr(site._server, "sockets", None) or []
        host, port = sockets[0].getsockname()[:2]
        self.address: tuple[str, int] = (host, port)
        self._thread = threading.Thread(target=self._loop.run_forever, name="dashboard",
                                        daemon=True)

    @property
    def url(self) -> str:
        host, port = self.address
        return f"http://{host}:{port}"

    def start(self) -> None:
        self._thread.start()
        self.log.info("dashboard on {} ({})", self.url, "controls need the token"
                      if self.auth.controls_enabled else "read-only: no token configured")

    def stop(self, timeout_s: float = 5.0) -> None:
        async def shutdown() -> None:
            self._closing.set()
            await self._runner.cleanup()

        if self._thread.is_alive():
            asyncio.run_coroutine_threadsafe(shutdown(), self._loop).result(timeout_s)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout_s)
        if not self._loop.is_running():
            self._loop.close()

    # -- the application ---------------------------------------------------------------------
    def _app(self) -> web.Application:
        app = web.Application(middlewares=[self._guard], client_max_size=64 * 1024)
        app.add_routes([web.get("/", self._index), web.static("/static", STATIC),
                        web.get("/api/session", self._session), web.post("/api/login", self._login),
                        web.post("/api/logout", self._logout), web.get("/api/events", self._events),
                        web.get("/metrics", self._metrics), *Api(self.source).routes()])
        return app

    @web.middleware
    async def _guard(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        denied = self._denied(request)
        response = denied if denied is not None else await handler(request)
        if not response.prepared:
            response.headers.update(SECURITY_HEADERS)
        return response

    def _denied(self, request: web.Request) -> web.Response | None:
        peer = request.remote or "?"
        public = request.path in PUBLIC or request.path.startswith("/static/")
        if request.method == "POST" and request.path not in PUBLIC:
            if not self.auth.controls_enabled:
                return error(403, "controls are disabled: no dashboard token configured")
            who = self.auth.who(request.headers, request.cookies, peer)
            if who is None:
                self.log.warning("dashboard: control from {} without a valid token", peer)
                return error(401, "missing or bad token")
            if not self.auth.bearer(request.headers) and not self.auth.same_origin(
                    request.headers, request.scheme, request.host):
                self.log.warning("dashboard: control from {} refused: cross-origin", peer)
                return error(403, "cross-origin request refused")
            request[WHO] = who
            return None
        if request.method == "POST" and not self.auth.same_origin(
                request.headers, request.scheme, request.host) and "Origin" in request.headers:
            return error(403, "cross-origin request refused")
        if self.auth.require_all and not public and self.auth.who(
                request.headers, request.cookies, peer) is None:
            return error(401, "this dashboard is not on a loopback address: log in first")
        return None

    async def _index(self, request: web.Request) -> web.StreamResponse:
        return web.FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-store"})

    async def _session(self, request: web.Request) -> web.Response:
        return reply({"authenticated": self.auth.who(request.headers, request.cookies,
                                                     "") is not None,
                      "controls_enabled": self.auth.controls_enabled,
                      "login_required": self.auth.require_all})

    async def _login(self, request: web.Request) -> web.Response:
        try:
            body = await request.json()
        except ValueError:
            return error(400, "body: expected {\"token\": ...}")
        sid = self.auth.login(body.get("token") if isinstance(body, dict) else None)
        if sid is None:
            self.log.warning("dashboard: failed login from {}", request.remote)
            return error(401, "wrong token")
        response = reply({"authenticated": True})
        response.set_cookie(COOKIE, sid, httponly=True, samesite="Strict", path="/",
                            max_age=SESSION_TTL_S)
        return response

    async def _logout(self, request: web.Request) -> web.Response:
        self.auth.logout(request.cookies)
        response = reply({"authenticated": False})
        response.del_cookie(COOKIE, path="/")
        return response

    async def _metrics(self, request: web.Request) -> web.StreamResponse:
        if self.metrics is None:
            return error(404, "metrics are not enabled")
        body = await off_loop(self.metrics)
        return web.Response(body=body, headers={"Content-Type": "text/plain; version=0.0.4; "
                                                                "charset=utf-8"})

    async def _events(self, request: web.Request) -> web.StreamResponse:
        """Server-sent events: ``status`` with the whole snapshot, each push interval."""
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream",
                                               "Cache-Control": "no-store"})
        response.headers.update(SECURITY_HEADERS)
        await response.prepare(request)
        try:
            while not self._closing.is_set():
                status = await off_loop(self.source.status)
                if status is not None:
                    await response.write(f"event: status\ndata: {dumps(status)}\n\n".encode())
                try:
                    await asyncio.wait_for(self._closing.wait(), self.push_interval_s)
                except TimeoutError:
                    pass
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        return response
