"""The dashboard's HTTP server: aiohttp on its own thread and event loop, bound at start (a port
in use is one line at startup, never a silently missing dashboard).

Routes: ``/`` and ``/static/*`` (the page; ``/favicon.ico`` answers 204), ``/api/*`` (JSON, see
README), ``/api/events`` (server-sent events: the status snapshot every ``push_interval_s``),
``/metrics`` (Prometheus), ``/api/login`` / ``/api/logout`` / ``/api/session``. The token is
never logged: aiohttp's access log is off and our log lines name only the peer and the path.

Hostile clients: on a loopback address only a ``Host`` naming this server is served (421
otherwise: DNS rebinding); refusals are logged at most once a second; wrong tokens slow their
peer down; connections are capped and each request must arrive within ``request_timeout_s``
(dashboard/connections.py); live event streams are capped apart, per peer and in all, so they
never take plain requests' slots (dashboard/streams.py).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from aiohttp import web
from aiohttp.web_protocol import RequestPayloadError

from dashboard.api import NO_STATUS, WHO, Api, dumps, error, json_body, off_loop, reply
from dashboard.auth import SESSION_TTL_S, Auth, cookie_name, http_url
from dashboard.connections import CappedSite, ConnectionGate, connection_of
from dashboard.source import DashboardSource
from dashboard.streams import Stream, StreamLimits
from dashboard.throttle import LoginThrottle, ServerLog, ThrottledLog

STATIC = Path(__file__).with_name("static")
PUBLIC = ("/", "/api/session", "/api/login", "/api/logout", "/favicon.ico")
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; "
                               "img-src 'self'; connect-src 'self'; base-uri 'none'; "
                               "form-action 'self'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}
REFUSALS_FLUSH_S = 1.0
"""How often the counts of refusals held back are logged once due (dashboard/throttle.py)."""
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class DashboardServer:
    def __init__(self, *, source: DashboardSource, auth: Auth, logger: Any,
                 metrics: Callable[[], bytes] | None = None, host: str = "127.0.0.1",
                 port: int = 0, push_interval_s: float = 1.0, max_connections: int = 64,
                 request_timeout_s: float = 10.0, max_streams: int = 32,
                 max_streams_per_peer: int = 8, logins: LoginThrottle | None = None) -> None:
        self.source, self.auth, self.log, self.metrics = source, auth, logger, metrics
        self.push_interval_s = push_interval_s
        self.refusals = ThrottledLog(logger, what="dashboard")
        self.streams = StreamLimits(max_streams=max_streams, per_peer=max_streams_per_peer,
                                    on_evicted=self._evicted)
        self.logins = logins or LoginThrottle()  # a test's own: its waits on a clock it moves
        self._loop = asyncio.new_event_loop()
        self._closing = asyncio.Event()
        self._runner = web.AppRunner(self._app(), access_log=None, handle_signals=False,
                                     shutdown_timeout=1.0,
                                     logger=ServerLog(logger, self.refusals))
        self._loop.run_until_complete(self._runner.setup())
        assert self._runner.server is not None
        gate = ConnectionGate(self._runner.server, max_connections=max_connections,
                              request_timeout_s=request_timeout_s, on_refused=self._over_cap)
        site = CappedSite(self._runner, host, port, gate=gate)
        try:
            self._loop.run_until_complete(site.start())
        except OSError:
            self._loop.run_until_complete(self._runner.cleanup())
            self._loop.close()
            raise
        host, port = site.sockets[0].getsockname()[:2]
        self.address: tuple[str, int] = (host, port)
        auth.cookie = cookie_name(port)  # one per port: a second dashboard keeps its own
        self._thread = threading.Thread(target=self._loop.run_forever, name="dashboard",
                                        daemon=True)

    def _evicted(self, peer: str, cap: int) -> None:
        self.refusals.warning("stream cap per peer", "dashboard: {} opened more than {} live "
                              "streams, closed its oldest", peer, cap)

    def _over_cap(self, open_now: int) -> None:
        self.refusals.warning("connection cap", "dashboard: {} connections open, refusing more",
                              open_now)

    @property
    def url(self) -> str:
        return http_url(*self.address)

    def start(self) -> None:
        self._thread.start()
        self._loop.call_soon_threadsafe(self._flush_refusals)
        self.log.info("dashboard on {} ({})", self.url, "controls need the token"
                      if self.auth.controls_enabled else "read-only: no token configured")

    def _flush_refusals(self) -> None:
        """Each second on the loop: the counts of refusals held back, once due."""
        if not self._closing.is_set():
            self.refusals.flush(due_only=True)
            self._loop.call_later(REFUSALS_FLUSH_S, self._flush_refusals)

    def stop(self, timeout_s: float = 5.0) -> None:
        async def shutdown() -> None:
            self._closing.set()
            self.streams.wake_all()
            await self._runner.cleanup()

        if self._thread.is_alive():
            asyncio.run_coroutine_threadsafe(shutdown(), self._loop).result(timeout_s)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout_s)
        if not self._loop.is_running():
            self._loop.close()
        self.api.close()
        self.refusals.flush()

    # -- the application ---------------------------------------------------------------------
    def _app(self) -> web.Application:
        app = web.Application(middlewares=[self._guard], client_max_size=64 * 1024)
        self.api = Api(self.source, self.refusals)
        app.add_routes([web.get("/", self._index), web.static("/static", STATIC),
                        web.get("/favicon.ico", self._favicon),
                        web.get("/api/session", self._session), web.post("/api/login", self._login),
                        web.post("/api/logout", self._logout), web.get("/api/events", self._events),
                        web.get("/metrics", self._metrics), *self.api.routes()])
        return app

    @web.middleware
    async def _guard(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        denied = self._denied(request)
        if denied is None and request.body_exists:
            denied = await self._read_body(request)
        if denied is not None:
            response: web.StreamResponse = denied
        else:
            connection = connection_of(request)
            if connection is not None:
                connection.disarm()  # the request is in: no deadline while it is handled
            try:
                response = await handler(request)
            except web.HTTPException as exc:  # a 400 a handler raises, a 404 of the router
                exc.headers.update(SECURITY_HEADERS)
                raise
            finally:
                if connection is not None:
                    connection.arm()  # the next request on this connection has its own
        if not response.prepared:
            response.headers.update(SECURITY_HEADERS)
        return response

    async def _read_body(self, request: web.Request) -> web.Response | None:
        """The body, read while the request's deadline runs (a trickle is cut off by it). A
        body that does not decode as its ``Content-Encoding`` says is a 400 and a throttled
        line (it was a 500 with two tracebacks in the log)."""
        try:
            await request.read()
        except ConnectionError:
            return error(408, "the request did not arrive in time")
        except RequestPayloadError:
            self.refusals.warning("malformed request", "dashboard: malformed request from {} "
                                  "refused (400): body does not decode as its "
                                  "Content-Encoding", request.remote or "?")
            response = error(400, "body: cannot be decoded (Content-Encoding)")
            response.force_close()  # the rest of the body cannot be read either
            return response
        return None

    def _denied(self, request: web.Request) -> web.Response | None:
        peer = request.remote or "?"
        if not self.auth.host_ok(request.host, self.address[1]):
            return error(421, "Host: this dashboard answers only to its own address")
        if request.method == "POST" and "Origin" in request.headers and not \
                self.auth.same_origin(request.headers, request.scheme, request.host):
            # the path as a repr: a decoded %0A would start a forged line in bot.log
            self.refusals.warning("cross-origin", "dashboard: POST {} from {} refused: "
                                  "cross-origin", repr(request.path[:100]), peer)
            return error(403, "cross-origin request refused")
        if request.method == "POST" and request.path not in PUBLIC:
            return self._control_denied(request, peer)
        public = request.path in PUBLIC or request.path.startswith("/static/")
        if self.auth.require_all and not public:
            waiting = self._locked_out(peer, request)
            if waiting is not None:
                return waiting
            if self._who(request, peer) is None:
                return error(401, "this dashboard is not on a loopback address: log in first")
        return None

    def _control_denied(self, request: web.Request, peer: str) -> web.Response | None:
        if not self.auth.controls_enabled:
            return error(403, "controls are disabled: no dashboard token configured")
        waiting = self._locked_out(peer, request)
        if waiting is not None:
            return waiting
        who = self._who(request, peer)
        if who is None:
            self.refusals.warning("bad token", "dashboard: control from {} without a valid "
                                  "token", peer)
            return error(401, "missing or bad token")
        if not self.auth.bearer(request.headers) and not self.auth.same_origin(
                request.headers, request.scheme, request.host):
            self.refusals.warning("cross-origin", "dashboard: control from {} refused: "
                                  "cross-origin", peer)
            return error(403, "cross-origin request refused")
        request[WHO] = who
        return None

    def _who(self, request: web.Request, peer: str) -> str | None:
        """How the request authenticated; a wrong bearer token counts against its peer."""
        who = self.auth.who(request.headers, request.cookies, peer)
        if who is None and "Authorization" in request.headers:
            self.logins.failed(peer)
        elif who is not None and self.auth.bearer(request.headers):
            self.logins.succeeded(peer)
        return who

    def _locked_out(self, peer: str, request: web.Request | None = None) -> web.Response | None:
        """429 while the peer must wait after wrong tokens (its token is not even checked).
        A request with a valid session cookie is no guess and always passes: behind a reverse
        proxy every client is one peer, and others' wrong tokens locked the logged-in
        operator out, kill switch included (a session id is random, never guessed here)."""
        wait = self.logins.retry_in(peer)
        if wait <= 0 or (request is not None and self.auth.session(request.cookies)):
            return None
        self.refusals.warning("wrong tokens", "dashboard: {} must wait {:.0f}s after wrong "
                              "tokens", peer, wait)
        response = error(429, f"too many wrong tokens: try again in {wait:.0f}s")
        response.headers["Retry-After"] = str(max(int(wait + 0.999), 1))
        return response

    async def _index(self, request: web.Request) -> web.StreamResponse:
        return web.FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-store"})

    async def _favicon(self, request: web.Request) -> web.Response:
        """The page names its icon (/static/favicon.svg); a client asking the old path gets no
        content rather than a 404 (which a browser shows as a console error on every page)."""
        return web.Response(status=204)

    async def _session(self, request: web.Request) -> web.Response:
        """Whether the request is authenticated; a bearer token here is a guess like any
        other (counted, and not checked while its peer must wait), or this view would answer
        guesses without the backoff."""
        peer = request.remote or "?"
        if "Authorization" in request.headers:
            waiting = self._locked_out(peer)
            if waiting is not None:
                return waiting
        return reply({"authenticated": self._who(request, peer) is not None,
                      "controls_enabled": self.auth.controls_enabled,
                      "login_required": self.auth.require_all})

    async def _login(self, request: web.Request) -> web.Response:
        peer = request.remote or "?"
        waiting = self._locked_out(peer)
        if waiting is not None:
            return waiting
        body = await json_body(request, "{\"token\": ...}")
        sid = self.auth.login(body.get("token") if isinstance(body, dict) else None)
        if sid is None:
            self.logins.failed(peer)
            self.refusals.warning("failed login", "dashboard: failed login from {}", peer)
            return error(401, "wrong token")
        self.logins.succeeded(peer)
        response = reply({"authenticated": True})
        # Secure when the browser reached us over HTTPS (directly, or through a proxy that
        # says so): the session must never travel in plain HTTP later (found by review: the
        # cookie had no Secure flag behind an HTTPS proxy); plain http on loopback keeps working
        forwarded = request.headers.get("X-Forwarded-Proto", "").split(",")[0].strip().lower()
        response.set_cookie(self.auth.cookie, sid, httponly=True, samesite="Strict", path="/",
                            max_age=SESSION_TTL_S, secure=request.secure or forwarded == "https")
        return response

    async def _logout(self, request: web.Request) -> web.Response:
        self.auth.logout(request.cookies)
        response = reply({"authenticated": False})
        response.del_cookie(self.auth.cookie, path="/")
        return response

    async def _metrics(self, request: web.Request) -> web.StreamResponse:
        if self.metrics is None:
            return error(404, "metrics are not enabled")
        body = await off_loop(self.metrics)
        return web.Response(body=body, headers={"Content-Type": "text/plain; version=0.0.4; "
                                                                "charset=utf-8"})

    async def _events(self, request: web.Request) -> web.StreamResponse:
        """Server-sent events: ``status`` with the whole snapshot, each push interval (or
        ``unavailable`` with the reason while there is none to read); a last ``closed`` (with
        the reason) when the stream is ended to make room for a newer one of the same peer
        (dashboard/streams.py)."""
        stream = Stream(request.remote or "?", request.transport)
        if not self.streams.admit(stream):
            self.refusals.warning("stream cap", "dashboard: {} live streams open, refusing "
                                  "more", self.streams.open)
            response = error(503, f"{self.streams.open} live streams are open: poll "
                                  "/api/status instead")
            response.headers["Retry-After"] = "30"
            return response
        try:
            return await self._stream(request, stream)
        finally:
            self.streams.release(stream)

    async def _stream(self, request: web.Request, stream: Stream) -> web.StreamResponse:
        connection = connection_of(request)
        if connection is not None:
            connection.uncount()  # streams are capped on their own
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream",
                                               "Cache-Control": "no-store"})
        response.headers.update(SECURITY_HEADERS)
        response.force_close()  # an ended stream ends its connection (it is counted nowhere)
        await response.prepare(request)
        try:
            while not self._closing.is_set() and stream.ended_because is None:
                if self.auth.require_all and self.auth.who(
                        request.headers, request.cookies, stream.peer) is None:
                    stream.end("session ended (logged out or expired)")  # it was checked
                    break  # only when the stream opened, and pushed on after a logout
                status, problem = await off_loop(self.source.read)
                if stream.ended_because is None:
                    await response.write(status_event(status, problem))
                await stream.sleep(self.push_interval_s)
            if stream.ended_because is not None:
                reason = dumps({"reason": stream.ended_because})
                await response.write(f"event: closed\ndata: {reason}\n\n".encode())
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        return response


def status_event(status: dict[str, Any] | None, problem: str | None) -> bytes:
    """``status`` with the snapshot, or ``unavailable`` with why there is none (status.json
    not written yet, or unreadable): sending nothing left the page showing its last status as
    live, heartbeat age frozen, for as long as the file could not be read."""
    if status is not None:
        return f"event: status\ndata: {dumps(status)}\n\n".encode()
    return f"event: unavailable\ndata: {dumps({'reason': problem or NO_STATUS})}\n\n".encode()
