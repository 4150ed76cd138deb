"""Alerts for escalations: an ERROR line (in the symbol's and the bot's log), and optional
notification hooks from config: a command to run and/or a webhook to POST to. Hooks run on a
small pool of background threads (``HOOK_THREADS``, fed in the order the alerts are raised by
one queue; found by review: one thread per alert, so a burst of alerts against a hung webhook
was hundreds of threads), each with a timeout, so a slow hook never blocks trading. A failing
hook is one WARNING line naming the alert that was not delivered (never a traceback, never the
webhook's URL or the command's arguments: either may hold a key). The webhook is tried up to
three times (after 2 s and 8 s more, or the ``Retry-After`` of a 429 or 503 when longer, up to
60 s) unless it refuses the alert for good (a 4xx answer, or a redirect: not followed).

Every alert kind the bot raises is listed here once (``FORWARDED`` or ``NOT_FORWARDED``);
notifications.telegram_bot reads these sets and tests/supervision/test_alert_kinds.py fails on a
kind raised in the code that is in neither."""

from __future__ import annotations

import collections
import json
import os
import shlex
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Collection
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

from observability.error_text import describe

ESCALATION = "escalation"
"""A symbol quarantined after its closes failed or its state could not be trusted."""
KILL_SWITCH = "kill_switch"
"""No new entries anywhere (too many escalations, or a person asked)."""
PROTECTION = "protection"
"""A protection tripped (daily loss limit, losing streak, ...): entries blocked."""
UNPROTECTED = "unprotected"
"""A position without its exchange stop for longer than the grace."""
CLUSTER_TAKEOVER = "cluster_takeover"
"""This node took over an account whose owner stopped renewing its lease."""
CLUSTER_LEASE_LOST = "cluster_lease_lost"
"""This node lost an account's lease (not renewed in time, e.g. the database unreachable): the
account stopped here; another node may take it over."""
WORKER_ESCALATION = "worker_escalation"
"""``run --workers``: a worker died too often; the parent stops everything."""
WORKER_HUNG = "worker_hung"
"""``run --workers``: a worker stopped beating; it is stopped for a restart."""
ACCOUNT_LOCK_LOST = "account_lock_lost"
"""An account's database lock was taken by another process: the bot stops."""
CRASH_LOOP = "crash_loop"
"""A symbol keeps failing and restarting, too slowly to escalate (told once per loop)."""
STATUS_WRITE_FAILED = "status_write_failed"
"""The status snapshot cannot be written (disk full, read-only): `bot.py status` is stale."""
STRATEGY_FAILED = "strategy_failed"
"""A symbol's strategy raised: its signals are off for a while, the position stays managed."""
RECONCILE_FAILING = "reconcile_failing"
"""A position not reconciled with the exchange for minutes (supervision/reconcile_watch.py)."""
EMERGENCY_CLOSE_FAILED = "emergency_close_failed"
"""An escalated symbol's emergency close failed: the position is still open (runtime/emergency)."""

FORWARDED = frozenset({ESCALATION, KILL_SWITCH, PROTECTION, UNPROTECTED, CLUSTER_TAKEOVER,
                       CLUSTER_LEASE_LOST,
                       WORKER_ESCALATION, WORKER_HUNG, ACCOUNT_LOCK_LOST, STATUS_WRITE_FAILED,
                       CRASH_LOOP, RECONCILE_FAILING, STRATEGY_FAILED,
                       EMERGENCY_CLOSE_FAILED})
"""Kinds a person must hear of at once: Telegram sends them to every listed chat whatever
``notify_trades`` says, ahead of any trade notice still queued."""
NOT_FORWARDED: frozenset[str] = frozenset()
"""Kinds that stay in the log and the command/webhook hooks only. None today: every alert the
bot raises needs a person. A kind in neither set is forwarded too (never lost by omission)."""

SENT_KEPT = 256
"""How many of the latest alerts ``Alerts.sent`` keeps (a bot running for months must not keep
every alert it ever raised in memory; found by review)."""

HOOK_THREADS = 4
"""The most threads that deliver one ``Alerts``' hooks at once; further alerts wait in its
queue, in the order raised, and none is dropped."""
HOOK_IDLE_S = 5.0
"""A hook thread with no alert to deliver for this long ends (started again when needed)."""

WEBHOOK_RETRY_S = (2.0, 8.0)
"""The waits before the webhook's second and third try."""
WEBHOOK_RETRY_AFTER_MAX_S = 60.0
"""The longest a 429's or 503's ``Retry-After`` lengthens a webhook retry wait (found by
review: Slack and Discord answer a burst with 429 and ``Retry-After``; the fixed 2 s and 8 s
retries came inside it, were refused again and the alert was given up)."""


_BOT_HOOKED: collections.OrderedDict[tuple[str, str, Any], None] = collections.OrderedDict()
"""The (command, webhook, ``bot_alert``) whose hooks already ran: runtime/runner.py hands a
bot-wide alert to every account's Alerts, and each ran the same hooks (found by review: with 3
accounts a failing status write was 3 webhook POSTs and 3 commands, each naming an account it
was not about; Telegram already sent it once)."""
_BOT_HOOKED_LOCK = threading.Lock()


def _first_hook(command: str, webhook: str, once: Any) -> bool:
    """Whether these hooks have not run for this bot-wide alert yet (and now count as run)."""
    key = (command, webhook, once)
    with _BOT_HOOKED_LOCK:
        if key in _BOT_HOOKED:
            return False
        _BOT_HOOKED[key] = None
        while len(_BOT_HOOKED) > SENT_KEPT:
            _BOT_HOOKED.popitem(last=False)
        return True


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A 3xx answer to the webhook's POST is a failure (an HTTPError), not followed: urllib
    follows a 301/302/303 as a GET without the body, and a 200 to that GET counted as
    delivered while the alert was lost (found by review: an http:// URL redirected to
    https://)."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_WEBHOOK_OPENER = urllib.request.build_opener(_NoRedirect)


class Alerts:
    def __init__(
        self,
        *,
        logger: Any,
        command: str = "",
        webhook: str = "",
        timeout_s: float = 10.0,
        account: str | None = None,
        webhook_retry_s: tuple[float, ...] = WEBHOOK_RETRY_S,
        sleep: Callable[[float], None] = time.sleep,
        secret_env: Collection[str] = (),
        hook_threads: int = HOOK_THREADS,
        outbox: Any = None,
    ) -> None:
        if hook_threads < 1:
            raise ValueError("hook_threads must be >= 1")
        self.logger = logger
        self.secret_env = frozenset(secret_env)
        """Environment variables holding the bot's secrets (config/secrets.secret_env_names):
        left out of the alert command's environment."""
        self.account = account
        """Named in every alert's payload when the bot runs several accounts."""
        self.command = command
        self.webhook = webhook
        self.timeout_s = timeout_s
        self.webhook_retry_s = tuple(webhook_retry_s)
        self._sleep = sleep
        self.sent: list[dict[str, Any]] = []
        """The latest ``SENT_KEPT`` alerts' payloads, oldest first."""
        self._sent_lock = threading.Lock()
        self.listeners: list[Callable[[dict[str, Any]], None]] = []
        """Called with each alert's payload on the alerting thread; each must return at once
        (e.g. notifications.telegram_bot hands it to its own sender thread). Added by
        ``listen``, which also hands it the alerts raised before."""
        self._hook_threads = hook_threads
        self._hooks_lock = threading.Lock()
        self._queued = threading.Condition(self._hooks_lock)  # an alert for the hook threads
        self._finished = threading.Condition(self._hooks_lock)  # a hook delivery ended
        self._queue: collections.deque[tuple[int, dict[str, Any]]] = collections.deque()
        self._unfinished: dict[int, str] = {}
        """The alerts queued or being delivered (by number, in the order raised), each with
        its text for wait's line."""
        self._numbered = 0
        self._workers = 0  # hook threads running
        self._idle = 0  # of them, waiting for an alert
        self.outbox = outbox
        """Keeps each alert until its hooks ran, across a kill (supervision/hook_outbox.py)."""
        self._rows: dict[int, int] = {}
        """Alert number -> its outbox row (under ``_hooks_lock``)."""
        self._closing: float | None = None
        """Set by ``wait`` (the bot is stopping) to its timeout: a later alert's hooks are
        waited for within it, before ``alert`` returns (found by review: a status write failing
        at the final write, after the accounts' wait, started a daemon hook thread that the
        process exit killed, the alert lost without a line)."""

    def resend_left(self) -> None:
        """Run the hooks of the alerts an earlier run left in the outbox (killed before they
        ran), each with its ``queued_at``; with no hook configured now they are dropped, said."""
        left = self.outbox.left() if self.outbox is not None else []
        for row, payload in left:
            if self.command or self.webhook:
                self._enqueue(payload, row)
            else:
                self.outbox.remove(row)
        if left:
            self.logger.warning("alert hooks: {} alert(s) the last run left undelivered {}",
                                len(left), "are delivered now" if self.command or self.webhook
                                else "dropped (no alert hook configured now)")

    def alert(self, symbol: str | None, kind: str, message: str, **data: Any) -> None:
        payload = {"symbol": symbol, "kind": kind, "message": message, **data}
        if self.account is not None:
            payload["account"] = self.account
        with self._sent_lock:  # alerts come from several threads; `listen` reads both at once
            self.sent.append(payload)
            del self.sent[:-SENT_KEPT]
            listeners = list(self.listeners)
        log = self.logger.bind(symbol=symbol) if symbol else self.logger
        log.error("ALERT {}: {}", kind, message)
        for listener in listeners:
            self._tell(listener, payload)
        hooked = payload
        once = data.get("bot_alert")
        if once is not None:  # the whole bot's: its hooks run once, under no account
            hooked = {k: v for k, v in payload.items() if k != "account"}
            if (self.command or self.webhook) and not _first_hook(self.command, self.webhook,
                                                                  once):
                return
        if self.command or self.webhook:
            number = self._enqueue(hooked)
            closing = self._closing
            if closing is not None:
                self._join(number, closing, alone=True)

    def listen(self, listener: Callable[[dict[str, Any]], None]) -> None:
        """Add a listener and hand it, first, the alerts raised before it was added (the
        latest ``SENT_KEPT``). Found by review: Telegram's listener is added once the accounts
        are built (dashboard/wiring.py), and the kill switch a start trips from the stored
        escalations is alerted while the account is built, so it never reached a chat. Each
        alert reaches it once: one raised meanwhile is either among those handed now or
        sees the listener in ``alert``, never both."""
        with self._sent_lock:
            earlier = list(self.sent)
            self.listeners.append(listener)
        for payload in earlier:
            self._tell(listener, payload)

    def _tell(self, listener: Callable[[dict[str, Any]], None], payload: dict[str, Any]) -> None:
        try:
            listener(payload)
        except Exception as exc:  # noqa: BLE001 - one broken channel never stops an alert
            self.logger.opt(exception=exc).error("alert listener failed: {}", describe(exc))

    def _enqueue(self, payload: dict[str, Any], row: int | None = None) -> int:
        """Queue the alert for the hook threads (one more started if none is idle and fewer
        than ``hook_threads`` run), kept in the outbox first; its number."""
        if row is None and self.outbox is not None:
            row = self.outbox.add(payload)
        with self._hooks_lock:
            self._numbered += 1
            number = self._numbered
            if row is not None:
                self._rows[number] = row
            self._queue.append((number, payload))
            self._unfinished[number] = _what(payload)
            if self._idle > len(self._queue) - 1:
                self._queued.notify()
            elif self._workers < self._hook_threads:
                self._workers += 1
                threading.Thread(target=self._deliver, name=f"alert-hook-{number}",
                                 daemon=True).start()
        return number

    def _deliver(self) -> None:
        """A hook thread: delivers queued alerts, oldest first, until none came for
        ``HOOK_IDLE_S``."""
        while True:
            with self._hooks_lock:
                while not self._queue:
                    self._idle += 1
                    try:
                        self._queued.wait(HOOK_IDLE_S)
                    finally:
                        self._idle -= 1
                    if not self._queue:
                        self._workers -= 1
                        return
                number, payload = self._queue.popleft()
            try:
                self._notify(payload)
            except Exception as exc:  # noqa: BLE001 - the thread must go on with the queue
                self.logger.warning("alert hooks: {} not delivered: {}", _what(payload),
                                    describe(exc))
            finally:
                with self._hooks_lock:
                    row = self._rows.pop(number, None)
                if row is not None:  # its hooks ran (delivered, or given up): not again
                    self.outbox.remove(row)
                with self._hooks_lock:
                    del self._unfinished[number]
                    self._finished.notify_all()

    def wait(self, timeout: float = 15.0) -> None:
        """Wait for the hooks of every alert raised so far, all within one ``timeout`` (not
        one per hook); an alert still queued or being delivered then is one WARNING naming it
        (found by review: the bot exits right after this wait, and a webhook between its tries
        died with the process, unsaid). An alert raised after this waits for its own hooks
        within the same ``timeout``."""
        self._closing = timeout
        with self._hooks_lock:
            number = self._numbered
        self._join(number, timeout)

    def _join(self, number: int, timeout: float, *, alone: bool = False) -> None:
        """Wait up to ``timeout`` for the hooks of the alerts up to ``number`` (``alone``: of
        that one alert only; those before it were named by ``wait`` already)."""
        deadline = time.monotonic() + timeout
        with self._hooks_lock:
            while True:
                left = [n for n in self._unfinished if n == number or n < number and not alone]
                remaining = deadline - time.monotonic()
                if not left or remaining <= 0:
                    break
                self._finished.wait(remaining)
            late = [self._unfinished[n] for n in sorted(left)]
        for what in late:
            self.logger.warning("alert hooks: {} still being delivered after {:g} s; it "
                                "may not arrive (the bot is stopping)", what, timeout)

    def _notify(self, payload: dict[str, Any]) -> None:
        body = json.dumps(payload, default=str)
        what = _what(payload)
        if self.command:
            self._run_command(body, payload, what)
        if self.webhook:
            self._post(body, what)

    def _run_command(self, body: str, payload: dict[str, Any], what: str) -> None:
        """Runs ``alert_command``; a failure is one line with the program's name, never its
        arguments (they may hold a key): exit code and stderr's first line, or the timeout."""
        env = {
            **{k: v for k, v in os.environ.items() if k not in self.secret_env},
            "BOT_ALERT": body,
            "BOT_ALERT_SYMBOL": payload.get("symbol") or "",
            "BOT_ALERT_KIND": payload["kind"],
            "BOT_ALERT_ACCOUNT": payload.get("account") or "",
        }
        try:
            argv = shlex.split(self.command)
        except ValueError as exc:  # unbalanced quotes: the message quotes no argument
            self.logger.warning("alert command cannot be parsed ({}); {} not run", exc, what)
            return
        program = argv[0] if argv else "(empty)"
        try:
            # The alert as JSON on stdin (what config.toml promises) and in $BOT_ALERT. In its
            # own session: a terminal's Ctrl-C (SIGINT to the whole foreground group) stops the
            # bot gracefully, and must not kill an alert being delivered (found by review)
            done = subprocess.run(argv, env=env, timeout=self.timeout_s, check=False,
                                  capture_output=True, input=body.encode(),
                                  start_new_session=True)
        except subprocess.TimeoutExpired:
            self.logger.warning("alert command {} timed out after {:g} s ({})", program,
                                self.timeout_s, what)
            return
        except Exception as exc:  # noqa: BLE001 - not found, not executable, ...: one line
            reason = exc.strerror if isinstance(exc, OSError) else None
            self.logger.warning("alert command {} could not run: {} ({})", program,
                                reason or type(exc).__name__, what)
            return
        if done.returncode != 0:
            error = _first_line(done.stderr, argv[1:])
            self.logger.warning("alert command {} exited with {} ({}){}", program,
                                done.returncode, what, f": {error}" if error else "")

    def _post(self, body: str, what: str) -> None:
        """POSTs ``body``, retrying after each of ``webhook_retry_s``; one line if it never
        arrives, naming the alert (the URL's key stays out of it)."""
        tries = len(self.webhook_retry_s) + 1
        for attempt in range(1, tries + 1):
            try:
                req = urllib.request.Request(self.webhook, data=body.encode(), method="POST",
                                             headers={"Content-Type": "application/json"})
                with _WEBHOOK_OPENER.open(req, timeout=self.timeout_s):
                    pass
                if attempt > 1:
                    self.logger.info("alert webhook: {} delivered at try {}", what, attempt)
                return
            except Exception as exc:  # noqa: BLE001 - BadStatusLine, ValueError, ...: one line
                error = _without_url(describe(exc), self.webhook)[:300]
                code = exc.code if isinstance(exc, urllib.error.HTTPError) else 0
                retry_after = (_retry_after(exc.headers) if code in (429, 503)
                               and isinstance(exc, urllib.error.HTTPError) else 0.0)
                refused = 300 <= code < 500 and code not in (408, 429)
                if code < 400 and refused:  # its Location may hold the key: not quoted
                    error += " (a redirect: set alert_webhook to the address it redirects to)"
            if refused or attempt == tries:
                break
            self._sleep(max(self.webhook_retry_s[attempt - 1], retry_after))
        self.logger.warning("alert webhook failed: {} not delivered ({} {}): {}", what, attempt,
                            "try" if attempt == 1 else "tries", _one_line(error))


def _retry_after(headers: Any) -> float:
    """A ``Retry-After`` header (seconds or an HTTP date) as seconds in
    0..WEBHOOK_RETRY_AFTER_MAX_S; 0 when absent or unreadable."""
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
    return min(max(seconds, 0.0), WEBHOOK_RETRY_AFTER_MAX_S)


def _what(payload: dict[str, Any]) -> str:
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
