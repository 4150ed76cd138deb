"""The Telegram Bot API over HTTP(S): ``sendMessage`` and ``getUpdates`` (long poll).

The base URL is configurable (tests point it at a local fake server). The bot token is part of
every request path, so no URL, request or exception text leaves this module unscrubbed.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

from notifications.secret import one_line, scrub


class SendFailed(Exception):
    """A call that did not succeed. ``permanent``: retrying the same message cannot help
    (e.g. 400 chat not found, 403 bot blocked); ``retry_after``: the server's wait, from a 429
    answer only (the sender never waits less than its own backoff, see sender.py);
    ``general``: it says nothing about the message, every message would fail so (no answer:
    the network, a timeout, a reply that is not the Bot API's; a 5xx; a 429; a 401)."""

    def __init__(self, *, reason: str, permanent: bool = False,
                 retry_after: float | None = None, redirect: bool = False,
                 general: bool = False, unauthorized: bool = False) -> None:
        super().__init__(reason)
        self.reason, self.permanent, self.retry_after = reason, permanent, retry_after
        self.redirect, self.general = redirect, general
        """redirect: a 3xx answer, ``api_url`` is not where the Bot API answers (permanent)."""
        self.unauthorized = unauthorized
        """A 401: Telegram refuses the bot token (revoked), not the message. The start check
        stops on it; the sender keeps the message (retried, in the outbox for the restart
        with the new token): as a permanent refusal it was dropped, its row removed."""


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A 3xx is an answer, not followed: urllib follows a 301/302/303 to a POST as a GET
    without the body, so every sendMessage became 'chat_id is empty' (refused, dropped) while
    the start-up getMe, needing no body, passed (found by review: an http:// api_url)."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirect)

MAX_TEXT = 4000
"""Telegram refuses a message over 4,096 characters; ours stop below that."""
CLIPPED = "\n… (cut: {} more characters; the dashboard or `bot.py status` has the rest)"


def clipped(text: str) -> str:
    """`text` as one message: a longer one is cut and says so (it was cut silently, so a long
    /status or alert read as if it were whole)."""
    if len(text) <= MAX_TEXT:
        return text
    keep = MAX_TEXT - len(CLIPPED.format(len(text)))  # the count has no more digits than this
    return text[:keep] + CLIPPED.format(len(text) - keep)


class TelegramApi:
    def __init__(self, *, base_url: str, token: str, timeout_s: float = 10.0) -> None:
        if not token:
            raise ValueError("telegram needs a bot token")
        self._base = base_url.rstrip("/")
        self._token = token
        self.timeout_s = timeout_s

    def send_message(self, chat_id: int, text: str) -> None:
        self._call("sendMessage", {"chat_id": chat_id, "text": clipped(text),
                                   "disable_web_page_preview": True})

    def get_me(self, timeout_s: float = 5.0) -> Any:
        """The bot's own account: the cheapest call that proves the token (401: it is not)."""
        return self._call("getMe", {}, timeout_s)

    def get_updates(self, offset: int, timeout_s: int) -> list[dict[str, Any]]:
        result = self._call("getUpdates", {"offset": offset, "timeout": timeout_s,
                                           "allowed_updates": ["message"]},
                            timeout_s=timeout_s + self.timeout_s)
        if result is not None and not isinstance(result, list):
            raise SendFailed(reason="getUpdates: result is not a list")
        return list(result or [])

    def _call(self, method: str, body: dict[str, Any], timeout_s: float | None = None) -> Any:
        """The call's ``result``; any failure at all (HTTP error, dropped connection mid-reply,
        a reply that is not a JSON object, ...) is a :class:`SendFailed` with a scrubbed reason."""
        url = f"{self._base}/bot{self._token}/{method}"
        try:
            req = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                         headers={"Content-Type": "application/json"})
            with _OPENER.open(req, timeout=timeout_s or self.timeout_s) as resp:
                answer = json.loads(resp.read() or b"{}")
        except urllib.error.HTTPError as exc:
            raise self._http_error(method, exc) from None
        except Exception as exc:  # noqa: BLE001 - refused, timeout, IncompleteRead, bad JSON...
            raise self._failed(method, exc) from None
        if not isinstance(answer, dict):
            raise SendFailed(reason=f"{method}: reply is not a JSON object", general=True)
        if not answer.get("ok"):
            raise SendFailed(reason=self._reason(f"{method}: {answer.get('description')}"))
        return answer.get("result")

    def _failed(self, method: str, exc: BaseException) -> SendFailed:
        return SendFailed(reason=self._reason(f"{method}: {type(exc).__name__}: {exc}"),
                          general=True)

    def _reason(self, text: str) -> str:
        """Scrubbed first, then cut: a cut through the token would leave a piece unscrubbed."""
        return one_line(scrub(text, self._token), 300)

    def _http_error(self, method: str, exc: urllib.error.HTTPError) -> SendFailed:
        try:
            answer = json.loads(exc.read() or b"{}")
        except Exception:  # noqa: BLE001 - a broken error body is just no detail
            answer = {}
        if not isinstance(answer, dict):
            answer = {}
        text = self._reason(f"{method}: HTTP {exc.code} {answer.get('description') or exc.reason}")
        params = answer.get("parameters")
        moved = params.get("migrate_to_chat_id") if isinstance(params, dict) else None
        if isinstance(moved, int) and not isinstance(moved, bool):  # a group made a supergroup
            text += f" (the chat is now {moved}: put that id in telegram.chat_ids)"
        retry_after = None
        if exc.code == 429 and isinstance(params, dict):  # a 5xx's retry_after is no promise
            retry_after = _seconds(params.get("retry_after"))
        if 300 <= exc.code < 400:  # its Location is not quoted: it holds the token
            return SendFailed(reason=text + " (a redirect: set telegram.api_url to the address "
                              "it redirects to)", permanent=True, redirect=True)
        permanent = exc.code in (400, 403, 404)
        return SendFailed(reason=text, permanent=permanent, retry_after=retry_after,
                          general=exc.code in (401, 429) or exc.code >= 500,
                          unauthorized=exc.code == 401)


def _seconds(value: Any) -> float | None:
    """A server's ``retry_after`` as seconds in 0..3600, or None when it is not a number."""
    if isinstance(value, bool):
        return None
    try:
        seconds = float(value)
    except (TypeError, ValueError, OverflowError):
        return None
    if seconds != seconds:  # NaN
        return None
    return min(max(seconds, 0.0), 3600.0)
