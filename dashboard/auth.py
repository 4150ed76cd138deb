"""Who may do what on the dashboard.

- Control actions (POST) need the token: ``Authorization: Bearer <token>``, or the session
  cookie from ``POST /api/login`` (HttpOnly, SameSite=Strict) together with an ``Origin`` header
  naming this server (a page from another origin cannot act, even where a browser would send
  the cookie); behind a reverse proxy, as its X-Forwarded-Proto / X-Forwarded-Host name it.
- Read-only views are open on a loopback address; bound anywhere else every data endpoint needs
  the token too. The page and its static files carry no data and are always served (they hold
  the login form).
- No token configured: reads as above, every control is refused.
- DNS rebinding: on a loopback address a request must name this server in ``Host``
  (``127.0.0.1:<port>``, ``localhost:<port>``, ``[::1]:<port>`` or the configured host), or it
  is refused before anything else; a page that rebinds its own name to 127.0.0.1 reads nothing.
  Off loopback every data view needs the token anyway, so any ``Host`` is served there (a
  reverse proxy or a DNS name may front the dashboard).
Tokens are compared in constant time; the session id is random and unrelated to the token. A
token that is not text or cannot be encoded is simply wrong.
"""

from __future__ import annotations

import hmac
import secrets
import time
from typing import Any

LOOPBACK = ("127.0.0.1", "::1", "localhost")


def http_url(host: str, port: int, path: str = "") -> str:
    """The URL a browser opens for a server bound to `host`: an IPv6 address in brackets
    (http://::1:8780 opens nowhere). The dashboard's and the signal endpoint's."""
    return f"http://[{host}]:{port}{path}" if ":" in host else f"http://{host}:{port}{path}"
"""Hosts that are this machine only (the signal endpoint uses the same set, signals/wiring.py)."""
MIN_TOKEN_CHARS = 16
"""A shorter token is refused at startup: the dashboard's (a login form invites guessing) and
the signal endpoint's when it listens beyond loopback (it has no wrong-token backoff)."""
COOKIE = "bot_session"
"""The session cookie's name, followed by ``_<port>`` once the server is bound
(:func:`cookie_name`): cookies are scoped by host, not port, so two dashboards on one machine
(a paper and a live bot) sharing one name logged each other out."""
SESSION_TTL_S = 12 * 3600


def cookie_name(port: int) -> str:
    return f"{COOKIE}_{port}"


class Auth:
    def __init__(self, *, token: str, host: str, clock: Any = time.time) -> None:
        self._token = token.encode("utf-8")
        self.host = host
        self.require_all = host not in LOOPBACK
        self.controls_enabled = bool(token)
        self.clock = clock
        self.cookie = COOKIE
        """The session cookie's name (the server sets :func:`cookie_name` once bound)."""
        self._sessions: dict[str, float] = {}

    def token_ok(self, given: object) -> bool:
        if not self._token or not given or not isinstance(given, str):
            return False
        try:
            raw = given.encode("utf-8")
        except UnicodeError:  # an unpaired surrogate (JSON "\ud800", a raw header byte)
            return False
        return hmac.compare_digest(raw, self._token)

    def host_ok(self, host: str | None, port: int) -> bool:
        """Whether a request's ``Host`` may be served (see the module text)."""
        if self.require_all:
            return True
        names = {"127.0.0.1", "localhost", "[::1]",
                 f"[{self.host}]" if ":" in self.host else self.host}
        allowed = {f"{name}:{port}" for name in names} | (names if port == 80 else set())
        return (host or "").lower() in allowed

    def bearer(self, headers: Any) -> bool:
        auth = headers.get("Authorization", "")
        return auth[:7].lower() == "bearer " and self.token_ok(auth[7:].strip())

    def session(self, cookies: Any) -> bool:
        sid = cookies.get(self.cookie)
        expiry = self._sessions.get(sid or "")
        if expiry is None:
            return False
        if expiry < self.clock():
            self._sessions.pop(sid, None)
            return False
        return True

    def login(self, given: object) -> str | None:
        if not self.token_ok(given):
            return None
        sid = secrets.token_urlsafe(32)
        self._sessions[sid] = self.clock() + SESSION_TTL_S
        return sid

    def logout(self, cookies: Any) -> None:
        self._sessions.pop(cookies.get(self.cookie) or "", None)

    @staticmethod
    def same_origin(headers: Any, scheme: str, host: str) -> bool:
        """``Origin`` names this server: as reached (``scheme``, ``Host``), or as a reverse
        proxy says the browser reached it (``X-Forwarded-Proto``, ``X-Forwarded-Host``: over
        HTTPS the page's Origin is https:// while the proxied request is http). A page from
        another site cannot use those headers: a browser sets them on no cross-site request
        (they need a CORS preflight, which is refused), and its Origin names its own site."""
        origin = headers.get("Origin")
        if origin is None:
            return False
        schemes = {scheme, _first(headers.get("X-Forwarded-Proto")).lower()} - {""}
        hosts = {host, _first(headers.get("X-Forwarded-Host"))} - {""}
        return origin in {f"{s}://{h}" for s in schemes for h in hosts}

    def who(self, headers: Any, cookies: Any, peer: str) -> str | None:
        """How a request authenticated, for the journal ("dashboard token from 127.0.0.1")."""
        if self.bearer(headers):
            return f"dashboard bearer token from {peer}"
        if self.session(cookies):
            return f"dashboard login from {peer}"
        return None


def _first(value: str | None) -> str:
    """The first of a proxy header's comma-separated values (the client's side)."""
    return (value or "").split(",", 1)[0].strip()
