"""Alerts for escalations: an ERROR line (in the symbol's and the bot's log), and optional
notification hooks from config: a command to run and/or a webhook to POST to. Hooks run on a
small pool of background threads, each try with a timeout, so a slow hook never blocks
trading; a hook failing for a reason that can pass keeps the alert and retries it with a
doubling backoff, across a restart too (supervision/hook_queue.py, hook_calls.py). A failing
hook is one WARNING line when it starts failing and one when it delivers again (never a
traceback, never the webhook's URL or the command's arguments: either may hold a key).

Every alert kind the bot raises is listed here once (``FORWARDED`` or ``NOT_FORWARDED``);
notifications.telegram_bot reads these sets and tests/supervision/test_alert_kinds.py fails on a
kind raised in the code that is in neither."""

from __future__ import annotations

import collections
import threading
import time
from collections.abc import Callable, Collection
from typing import Any

from observability.error_text import describe
from supervision.hook_queue import (
    HOOK_THREADS,
    MAX_AGE_S,
    MAX_QUEUED,
    RETRY_S,
    HookCall,
    HookQueue,
)

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

LOW_IMPORTANCE = frozenset({STATUS_WRITE_FAILED, STRATEGY_FAILED, CRASH_LOOP, WORKER_HUNG,
                            CLUSTER_TAKEOVER})
"""Kinds whose hook alerts go first when the hooks' outbox is full (MAX_QUEUED): none of them
is about a position left without its stop or about money at risk."""


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


class Alerts(HookQueue):
    def __init__(
        self,
        *,
        logger: Any,
        command: str = "",
        webhook: str = "",
        timeout_s: float = 10.0,
        account: str | None = None,
        retry_s: tuple[float, float] = RETRY_S,
        sleep: Callable[[float], Any] | None = None,
        secret_env: Collection[str] = (),
        hook_threads: int = HOOK_THREADS,
        outbox: Any = None,
        max_age_s: float = MAX_AGE_S,
        max_queued: int = MAX_QUEUED,
        wall: Callable[[], float] = time.time,
        call: HookCall | None = None,
    ) -> None:
        """``sleep`` waits out a failing hook's backoff (default: until the bot stops);
        ``wall`` dates an alert for ``max_age_s``; ``call`` is one try of one hook (default:
        the command run or the webhook POSTed, hook_calls.py)."""
        self._init_queue(hook_threads=hook_threads, retry_s=retry_s, sleep=sleep,
                         max_age_s=max_age_s, max_queued=max_queued,
                         low_kinds=LOW_IMPORTANCE, wall=wall, call=call)
        self.logger = logger
        self.secret_env = frozenset(secret_env)
        """Environment variables holding the bot's secrets (config/secrets.secret_env_names):
        left out of the alert command's environment."""
        self.account = account
        """Named in every alert's payload when the bot runs several accounts."""
        self.command = command
        self.webhook = webhook
        self.timeout_s = timeout_s
        self.sent: list[dict[str, Any]] = []
        """The latest ``SENT_KEPT`` alerts' payloads, oldest first."""
        self._sent_lock = threading.Lock()
        self.listeners: list[Callable[[dict[str, Any]], None]] = []
        """Called with each alert's payload on the alerting thread; each must return at once
        (e.g. notifications.telegram_bot hands it to its own sender thread). Added by
        ``listen``, which also hands it the alerts raised before."""
        self.outbox = outbox
        """Keeps each alert until its hooks are done, across a kill (hook_outbox.py)."""
        self._closing: float | None = None
        """Set by ``wait`` (the bot is stopping) to its timeout: a later alert's hooks are
        waited for within it, before ``alert`` returns (found by review: a status write failing
        at the final write, after the accounts' wait, started a daemon hook thread that the
        process exit killed, the alert lost without a line)."""

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
