"""Who may do what on the dashboard.

- Control actions (POST) need the token: ``Authorization: Bearer <token>``, or the session
  cookie from ``POST /api/login`` (HttpOnly, SameSite=Strict) together with an ``Origin`` header
  naming this server (a page from another origin cannot act, even where a browser would send
  the cookie).
- Read-only views are open on a loopback address; bound anywhere else every data endpoint needs
  the token too. The page and its static files carry no data and are always served (they hold
  the login form).
- No token configured: reads as above, every control is refused.
Tokens are compared in constant time; the session id is random and unrelated to the token.
"""

from __future__ import annotations

import hmac
import secrets
import time
from typing import Any

LOOPBACK = ("127.0.0.1", "::1", "localhost")
COOKIE = "bot_session"
SESSION_TTL_S = 12 * 3600


class Auth:
    def __init__(self, *, token: str, host: str, clock: Any = time.time) -> None:
        self._token = token.encode("utf-8")
        self.require_all = host not in LOOPBACK
        self.controls_enabled = bool(token)
        self.clock = clock
        self._sessions: dict[str, float] = {}

    def token_ok(self, given: str | None) -> bool:
        return bool(self._token) and bool(given) and hmac.compare_digest(
            str(given).encode("utf-8"), self._token)

    def bearer(self, headers: Any) -> bool:
        auth = headers.get("Authorization", "")
        return auth[:7].lower() == "bearer " and self.token_ok(auth[7:].strip())

    def session(self, cookies: Any) -> bool:
        sid = cookies.get(COOKIE)
        expiry = self._sessions.get(sid or "")
        if expiry is None:
            return False
        if expiry < self.clock():
            self._sessions.pop(sid, None)
            return False
        return True

    def login(self, given: str | None) -> str | None:
        if not self.token_ok(given):
            return None
        sid = secrets.token_urlsafe(32)
        self._sessions[sid] = self.clock() + SESSION_TTL_S
        return sid

    def logout(self, cookies: Any) -> None:
        self._sessions.pop(cookies.get(COOKIE) or "", None)

    @staticmethod
    def same_origin(headers: Any, scheme: str, host: str) -> bool:
        return headers.get("Origin") == f"{scheme}://{host}"

    def who(self, headers: Any, cookies: Any, peer: str) -> str | None:
        """How a request authenticated, for the journal ("dashboard token from 127.0.0.1")."""
        if self.bearer(headers):
            return f"dashboard bearer token from {peer}"
        if self.session(cookies):
            return f"dashboard login from {peer}"
        return None
