"""One try of one alert hook: ``alert_command`` run once, or ``alert_webhook`` POSTed once, and
what its failure means: the ``Outcome`` says whether trying again can help (supervision/
hook_queue.py keeps the alert and retries it) or the request itself is wrong (dropped).

Found by review: the webhook gave an alert up after 3 tries (about 10 s) or at once on any
4xx answer, 401/403/429 included, and a command was given up at its first non-zero exit: an
outage of the pager longer than that, a rotated key or a rate limit lost the alert for good.
Whatever can pass is now a ``retry`` outcome: no answer (refused, timed out, a broken reply),
a 5xx, 408, 429, 401/403 (a key the user can fix), a 3xx (not followed: urllib follows a
301/302/303 as a GET without the body; a moved webhook, http:// now https:// or a new path, is
fixed by the user in alert_webhook like a rotated key, and found by review, dropping it at once
lost the alert that the fixed address would take at the next start), a command exiting
non-zero or timing out. Any other 4xx (400, 404, 410, 413, 422: the request itself is wrong)
is ``lasting``.

No line here names the webhook's URL or the command's arguments: either may hold a key."""

from __future__ import annotations

import os
import shlex
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Collection
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

from observability.error_text import describe

PASSING_4XX = frozenset({401, 403, 408, 429})
"""4xx answers that can pass: a key the user can fix (401, 403), a timeout (408), a rate
limit (429). Any other 4xx says the request itself is wrong."""
RETRY_AFTER_CODES = frozenset({429, 503})
"""Answers whose ``Retry-After`` is honoured (a 500's is no promise)."""
KEY_HINT = " (the webhook refuses its key: check alert_webhook; kept until it takes it)"


@dataclass(frozen=True, slots=True)
class Outcome:
    error: str = ""
    """What went wrong, for a log line ("" when delivered)."""
    lasting: bool = False
    """The request itself is wrong: trying it again cannot help."""
    retry_after: float = 0.0
    """The wait a 429 or 503 asked for, in seconds (0: none)."""

    @property
    def delivered(self) -> bool:
        return not self.error


DELIVERED = Outcome()


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A 3xx answer to the webhook's POST is a failure (an HTTPError), not followed: urllib
    follows a 301/302/303 as a GET without the body, and a 200 to that GET counted as
    delivered while the alert was lost (found by review: an http:// URL redirected to
    https://)."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_WEBHOOK_OPENER = urllib.request.build_opener(_NoRedirect)


def post(url: str, body: str, timeout_s: float, retry_after_max_s: float) -> Outcome:
    """POSTs ``body`` to ``url`` once."""
    try:
        req = urllib.request.Request(url, data=body.encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
        with _WEBHOOK_OPENER.open(req, timeout=timeout_s):
            return DELIVERED
    except Exception as exc:  # noqa: BLE001 - BadStatusLine, ValueError, ...: one outcome
        error = _one_line(_without_url(describe(exc), url))[:300]
        code = exc.code if isinstance(exc, urllib.error.HTTPError) else 0
        if 300 <= code < 400:  # its Location may hold the key: not quoted
            return Outcome(error + " (a redirect: set alert_webhook to the address it "
                           "redirects to; kept until it is delivered)")
        if 400 <= code < 500 and code not in PASSING_4XX:
            return Outcome(error, lasting=True)
        wait = (_retry_after(exc.headers, retry_after_max_s)
                if isinstance(exc, urllib.error.HTTPError) and code in RETRY_AFTER_CODES
                else 0.0)
        return Outcome(error + (KEY_HINT if code in (401, 403) else ""), retry_after=wait)


def run_command(command: str, body: str, payload: dict[str, Any], secret_env: Collection[str],
                timeout_s: float) -> Outcome:
    """Runs ``command`` once, the alert as JSON on stdin (what config.toml promises) and in
    $BOT_ALERT, without the bot's secrets in its environment. In its own session: a terminal's
    Ctrl-C (SIGINT to the whole foreground group) stops the bot gracefully, and must not kill
    an alert being delivered (found by review)."""
    env = {
        **{k: v for k, v in os.environ.items() if k not in secret_env},
        "BOT_ALERT": body,
        "BOT_ALERT_SYMBOL": payload.get("symbol") or "",
        "BOT_ALERT_KIND": str(payload.get("kind")),
        "BOT_ALERT_ACCOUNT": payload.get("account") or "",
    }
    try:
        argv = shlex.split(command)
    except ValueError as exc:  # unbalanced quotes: the message quotes no argument
        return Outcome(f"cannot be parsed ({exc})", lasting=True)
    try:
        done = subprocess.run(argv, env=env, timeout=timeout_s, check=False,
                              capture_output=True, input=body.encode(), start_new_session=True)
    except subprocess.TimeoutExpired:
        return Outcome(f"timed out after {timeout_s:g} s")
    except Exception as exc:  # noqa: BLE001 - not found, not executable, ...: can pass
        reason = exc.strerror if isinstance(exc, OSError) else None
        return Outcome(f"could not run: {reason or type(exc).__name__}")
    if done.returncode == 0:
        return DELIVERED
    error = _first_line(done.stderr, argv[1:])
    return Outcome(f"exited with {done.returncode}" + (f": {error}" if error else ""))


def program(command: str) -> str:
    """The command's program name (never its arguments: they may hold a key)."""
    try:
        argv = shlex.split(command)
    except ValueError:
        return "(unparsable)"
    return _one_line(argv[0]) if argv else "(empty)"


def webhook_name(url: str) -> str:
    """The webhook in a log line: its scheme and host only (its path and query may hold a
    token, as the old lines' ``<webhook>`` kept out)."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or "?"
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "<webhook>"
    return _one_line(f"{parts.scheme}://{host}{port}")


def _retry_after(headers: Any, longest: float) -> float:
    """A ``Retry-After`` header (seconds or an HTTP date) as seconds in 0..``longest``; 0 when
    absent or unreadable."""
    value = str((headers.get("Retry-After") if headers is not None else None) or "").strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            seconds = parsedate_to_datetime(value).timestamp() - time.time()
        except (TypeError, ValueError, IndexError, OverflowError):
            return 0.0
    if seconds != seconds:  # NaN
        return 0.0
    return min(max(seconds, 0.0), longest)


def what(payload: dict[str, Any]) -> str:
    """The alert in a log line: ``escalation alert for BTC/USDT:USDT of account alpha``."""
    text = f"{payload.get('kind')} alert"
    if payload.get("symbol"):
        text += f" for {payload['symbol']}"
    if payload.get("account"):
        text += f" of account {payload['account']}"
    return _one_line(text)


def _first_line(stderr: bytes | None, arguments: list[str]) -> str:
    """The first non-empty line of a command's stderr, its arguments (and each ``=value``)
    replaced, at most 200 characters."""
    text = (stderr or b"").decode(errors="replace")
    line = next((x.strip() for x in text.splitlines() if x.strip()), "")
    secrets = set(arguments) | {a.split("=", 1)[1] for a in arguments if "=" in a}
    for secret in sorted((s for s in secrets if len(s) >= 4), key=len, reverse=True):
        line = line.replace(secret, "***")
    return _one_line(line)[:200]


def _one_line(text: str) -> str:
    """``text`` with control characters (a newline could forge a log line) escaped."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def _without_url(text: str, url: str) -> str:
    """``text`` with the webhook URL and its parts that may hold a key replaced."""
    try:
        parts = urlsplit(url)
        pieces = [url, parts.netloc, parts.query, parts.path, parts.username or "",
                  parts.password or ""]
    except ValueError:
        pieces = [url]
    for piece in sorted((p for p in pieces if len(p) > 1), key=len, reverse=True):
        text = text.replace(piece, "<webhook>")
    return text
