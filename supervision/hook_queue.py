"""The alert hooks' delivery: a small pool of threads (``HOOK_THREADS``, fed in the order the
alerts are raised by one queue; found by review: one thread per alert, so a burst against a
hung webhook was hundreds of threads) runs each alert's ``alert_command`` and ``alert_webhook``
(supervision/hook_calls.py), so no hook ever holds up an actor or the supervisor.

A hook that fails for a reason that can pass keeps the alert (in memory and in the outbox,
supervision/hook_outbox.py) and tries it again after ``retry_s[0]`` doubling up to
``retry_s[1]`` (5 s to 10 minutes; a 429's or 503's ``Retry-After`` when longer), for as long
as the bot runs and again at its next start. While a hook fails it is tried by one thread,
with its oldest alert first: none raised later goes out before an older one arrived (or was
dropped); at other times up to ``HOOK_THREADS`` alerts are in flight at once, so two raised
together may arrive in either order. One line when a hook starts failing, one when it
delivers again, never one per try. An alert is dropped (one ERROR line) when its request is
wrong (hook_calls ``lasting``), when it is older than ``max_age_s`` (24 h) after a failed try,
and the oldest ones, of the least important kinds first, when more than ``max_queued`` wait
(one line for each such cut, saying how many)."""

from __future__ import annotations

import collections
import json
import threading
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any

from observability.error_text import describe
from supervision.hook_calls import Outcome, post, program, run_command, webhook_name, what

HOOK_THREADS = 4
"""The most threads that deliver one ``Alerts``' hooks at once; further alerts wait in its
queue, in the order raised."""
HOOK_IDLE_S = 5.0
"""A hook thread with no alert to deliver for this long ends (started again when needed)."""
RETRY_S = (5.0, 600.0)
"""The wait before a failed hook's first retry, and the longest it doubles to."""
MAX_AGE_S = 24 * 3600.0
"""An alert still not delivered this long after it was raised is dropped at its next failure."""
MAX_QUEUED = 1000
"""The most alerts waiting for their hooks (the outbox cannot grow for ever)."""
HOOKS = ("command", "webhook")
HookCall = Callable[[str, dict[str, Any]], Outcome]
"""One try of one hook (``command`` or ``webhook``) with an alert's payload."""


@dataclass(slots=True)
class _Alert:
    payload: dict[str, Any]
    row: int | None
    hooks: list[str]
    """Its hooks not done yet."""
    queued_at: float
    what: str
    named: bool = False
    """Named by a stop's wait as not delivered yet."""


@dataclass(slots=True)
class _Line:
    """One hook's state: failing since (monotonic; None: not failing), its failed tries, the
    next wait, and the thread retrying it (then no other tries it)."""

    failing_since: float | None = None
    tries: int = 0
    wait_s: float = 0.0
    owner: int | None = None


class HookQueue:
    """Mixed into supervision.alerts.Alerts, whose ``command``, ``webhook``, ``outbox``,
    ``logger``, ``timeout_s`` and ``secret_env`` it reads at each try."""

    command: str
    webhook: str
    outbox: Any
    logger: Any
    timeout_s: float
    secret_env: frozenset[str]
    _closing: float | None

    def _init_queue(self, *, hook_threads: int, retry_s: tuple[float, float],
                    sleep: Callable[[float], Any] | None, max_age_s: float, max_queued: int,
                    low_kinds: Collection[str], wall: Callable[[], float],
                    call: HookCall | None = None) -> None:
        if hook_threads < 1:
            raise ValueError("hook_threads must be >= 1")
        self._hook_threads, self.retry_s = hook_threads, retry_s
        self.max_age_s, self.max_queued, self._low, self._wall = (max_age_s, max_queued,
                                                                  frozenset(low_kinds), wall)
        self._stopped = threading.Event()
        """Set once a stop's wait ended with alerts undelivered: retries end, rows stay."""
        self._sleep = sleep or self._stopped.wait
        self._hook_call: HookCall = call or self._call
        self._hooks_lock = threading.Lock()
        self._queued = threading.Condition(self._hooks_lock)  # an alert for the hook threads
        self._finished = threading.Condition(self._hooks_lock)  # an alert's hooks ended
        self._queue: list[tuple[int, str]] = []
        """(alert number, hook) not taken yet, in the order raised."""
        self._alerts: dict[int, _Alert] = {}
        """The alerts queued or being delivered, by number."""
        self._lines = {hook: _Line() for hook in HOOKS}
        self._numbered = self._workers = self._idle = 0

    def resend_left(self) -> None:
        """Run the hooks of the alerts an earlier run left in the outbox (killed before they
        ran, or kept while a hook failed), each with its ``queued_at``, before any alert of
        this run; with no hook configured now they are dropped, said."""
        left = self.outbox.left() if self.outbox is not None else []
        for row, payload, done in left:
            self._enqueue(payload, row, done, queued_at=payload["queued_at"])
        if left:
            self.logger.warning("alert hooks: {} alert(s) the last run left undelivered {}",
                                len(left), "are delivered now" if self.command or self.webhook
                                else "dropped (no alert hook configured now)")

    def _enqueue(self, payload: dict[str, Any], row: int | None = None,
                 done: Collection[str] = (), queued_at: float | None = None) -> int:
        """Queue the alert for the hook threads, kept in the outbox first; its number."""
        if row is None and self.outbox is not None:
            row = self.outbox.add(payload)
        hooks = [hook for hook in HOOKS if getattr(self, hook) and hook not in done]
        alert = _Alert(payload, row, hooks, self._wall() if queued_at is None else queued_at,
                       what(payload))
        with self._hooks_lock:
            self._numbered += 1
            number = self._numbered
            self._alerts[number] = alert
            self._queue.extend((number, hook) for hook in hooks)
            shed = self._shed()
            self._wake()
        if not hooks:
            self._end(number, None)
        self._drop_shed(shed)
        return number

    def _wake(self) -> None:
        """Under the lock: idle threads told, and more started for what they cannot take."""
        self._queued.notify(len(self._queue))
        spare = len(self._queue) - self._idle
        while spare > 0 and self._workers < self._hook_threads:
            self._workers += 1
            spare -= 1
            threading.Thread(target=self._deliver, name=f"alert-hook-{self._numbered}",
                             daemon=True).start()

    def _take(self) -> tuple[int, str] | None:
        """Under the lock: the oldest queued (alert, hook) whose hook no thread is retrying;
        taking a failing hook's makes this thread its only one."""
        for i, (_, hook) in enumerate(self._queue):
            line = self._lines[hook]
            if line.failing_since is not None:
                if line.owner is not None or self._stopped.is_set():
                    continue
                line.owner = threading.get_ident()
            return self._queue.pop(i)
        return None

    def _deliver(self) -> None:
        """A hook thread: delivers queued alerts, oldest first, until none came for
        ``HOOK_IDLE_S``."""
        while True:
            with self._hooks_lock:
                item = self._take()
                while item is None:
                    self._idle += 1
                    try:
                        self._queued.wait(HOOK_IDLE_S)
                    finally:
                        self._idle -= 1
                    item = self._take()
                    if item is None:
                        self._workers -= 1
                        return
            try:
                self._until_done(*item)
            except Exception as exc:  # noqa: BLE001 - a bug must not end the thread
                self._broke(*item, exc)

    def _broke(self, number: int, hook: str, exc: Exception) -> None:
        """An unexpected exception in ``_until_done`` (found by review: it ended the thread,
        whose hook, while failing, stayed owned by it, so no thread took that hook's alerts
        again for the run): the hook is freed, and the alert kept in the outbox for the next
        start (tried again now, the same bug could fail it at once, in a loop)."""
        self._release(hook)
        with self._hooks_lock:
            alert = self._alerts.get(number)
            if alert is None:  # kept or done meanwhile
                return
            named, alert.named = alert.named, True
        if not named:
            self.logger.opt(exception=exc).error(
                "alert hooks: delivering {} by the {} failed unexpectedly ({}); {}", alert.what,
                _name(self, hook), describe(exc),
                "kept in the outbox for the next start" if alert.row is not None
                and self.outbox is not None else "dropped (no outbox keeps it)")
        self._keep(number, hook, Outcome(describe(exc)))

    def _until_done(self, number: int, hook: str) -> None:
        """Tries the alert's hook until it is delivered or dropped; while the hook fails, with
        its oldest alert first at each retry."""
        while True:
            with self._hooks_lock:
                alert = self._alerts.get(number)
            if alert is None:  # its other hook's thread kept it for the next start meanwhile
                self._release(hook)
                return
            outcome = self._try(hook, alert.payload)
            if outcome.delivered or outcome.lasting:
                self._settle(hook, alert, outcome)
                self._end(number, hook)
                return
            wait = self._failed(hook, alert, outcome)
            age = self._wall() - alert.queued_at
            if age > self.max_age_s:
                self.logger.error("alert hooks: {} raised {} ago, not delivered by the {} ({}): "
                                  "dropped (alerts are kept {} at most)", alert.what,
                                  _span(age), _name(self, hook), outcome.error,
                                  _span(self.max_age_s))
                self._release(hook)
                self._end(number, hook)
                return
            if wait is not None and not self._stopped.is_set():
                self._sleep(wait)
            if self._stopped.is_set():  # the bot is stopping: kept for its next start
                self._release(hook)
                self._keep(number, hook, outcome)
                return
            with self._hooks_lock:
                self._queue.append((number, hook))
                self._queue.sort()  # back in its place: the order raised
                if wait is None:  # another thread retries the hook
                    self._wake()
                    return
                number = next(n for n, h in self._queue if h == hook)  # the hook's oldest
                self._queue.remove((number, hook))

    def _keep(self, number: int, hook: str, outcome: Outcome) -> None:
        """An alert not delivered when the bot stops: its row stays for the next start."""
        with self._hooks_lock:
            alert = self._alerts.pop(number, None)  # None: its other hook kept it already
            if alert is None:
                return
            self._queue = [(n, h) for n, h in self._queue if n != number]
            self._finished.notify_all()
        if not alert.named:
            self.logger.warning("alert hooks: {} not delivered by the {} ({}); {}", alert.what,
                                _name(self, hook), outcome.error, _kept(self, alert))

    def _try(self, hook: str, payload: dict[str, Any]) -> Outcome:
        """One try of the hook; one that raises (a bug) is a failed try, on the hook's
        backoff like any other."""
        try:
            return self._hook_call(hook, payload)
        except Exception as exc:  # noqa: BLE001 - the thread must go on with the queue
            return Outcome(f"failed unexpectedly: {describe(exc)}")

    def _call(self, hook: str, payload: dict[str, Any]) -> Outcome:
        body = json.dumps(payload, default=str)
        try:
            if hook == "command":
                return run_command(self.command, body, payload, self.secret_env, self.timeout_s)
            return post(self.webhook, body, self.timeout_s, self.retry_s[1])
        except Exception as exc:  # noqa: BLE001 - the thread must go on with the queue
            return Outcome(describe(exc))

    def _failed(self, hook: str, alert: _Alert, outcome: Outcome) -> float | None:
        """Counts a failed try: the wait before this thread tries the hook again, None when
        another thread is retrying it (this alert goes back to the queue). Said once, when
        the hook starts failing."""
        me = threading.get_ident()
        with self._hooks_lock:
            line = self._lines[hook]
            line.tries += 1
            if line.owner not in (None, me):
                return None
            first = line.failing_since is None
            if first:
                line.failing_since, line.wait_s = time.monotonic(), self.retry_s[0]
            else:
                line.wait_s = min(line.wait_s * 2, self.retry_s[1])
            line.owner = me
            wait = max(line.wait_s, outcome.retry_after)
        if first:
            self.logger.warning("alert {} failing: {} ({}); it and the alerts after it are "
                                "kept and tried again in {:g} s, then doubling up to {:g} s",
                                _name(self, hook), outcome.error, alert.what, wait,
                                self.retry_s[1])
        return wait

    def _settle(self, hook: str, alert: _Alert, outcome: Outcome) -> None:
        """A try that ended the alert's hook: delivered (the hook delivers again, said once
        if it was failing) or refused for good (one ERROR line)."""
        if outcome.lasting:
            self.logger.error("alert {} refused {}: {}; dropped (the request itself is wrong: "
                              "trying it again cannot help)", _name(self, hook), alert.what,
                              outcome.error)
            self._release(hook)
            return
        with self._hooks_lock:
            line = self._lines[hook]
            since, tries = line.failing_since, line.tries
            self._lines[hook] = _Line()
            waiting = sum(1 for _, h in self._queue if h == hook)
            self._wake()
        if since is not None:
            self.logger.warning("alert {} delivers again ({}) after {} failed tries over {}; "
                                "{} more alert(s) waiting for it", _name(self, hook),
                                alert.what, tries, _span(time.monotonic() - since), waiting)

    def _release(self, hook: str) -> None:
        """This thread no longer retries ``hook`` (if it did): the next thread that takes one
        of its alerts does."""
        with self._hooks_lock:
            line = self._lines[hook]
            if line.owner == threading.get_ident():
                line.owner = None
                self._wake()

    def _end(self, number: int, hook: str | None) -> None:
        """The alert's ``hook`` is done (delivered or dropped); with its last, its outbox row
        goes."""
        with self._hooks_lock:
            alert = self._alerts.get(number)
            if alert is None:  # kept for the next start (`_keep`) meanwhile
                return
            if hook is not None:
                alert.hooks.remove(hook)
            last = not alert.hooks
        if alert.row is not None and self.outbox is not None:
            if last:
                self.outbox.remove(alert.row)
            elif hook is not None:
                self.outbox.mark_done(alert.row, hook)
        if last:
            with self._hooks_lock:
                del self._alerts[number]
                self._finished.notify_all()

    def _shed(self) -> list[_Alert]:
        """Under the lock: beyond ``max_queued`` alerts, the oldest not being delivered, of
        the least important kinds first, taken out (down to 90 % of the bound)."""
        excess = len(self._alerts) - self.max_queued
        if excess <= 0:
            return []
        count = excess + max(1, self.max_queued // 10)
        queued = collections.Counter(n for n, _ in self._queue)
        free = [n for n, a in self._alerts.items() if queued[n] == len(a.hooks)]
        free.sort(key=lambda n: (self._alerts[n].payload.get("kind") not in self._low, n))
        shed = set(free[:count])
        self._queue = [(n, h) for n, h in self._queue if n not in shed]
        return [self._alerts.pop(n) for n in sorted(shed)]

    def _drop_shed(self, shed: list[_Alert]) -> None:
        if not shed:
            return
        for alert in shed:
            if alert.row is not None and self.outbox is not None:
                self.outbox.remove(alert.row)
        kinds = collections.Counter(str(a.payload.get("kind")) for a in shed)
        self.logger.error("alert hooks: more than {} alerts wait for their hooks: {} dropped, "
                          "the oldest of the least important kinds first ({})",
                          self.max_queued, len(shed),
                          ", ".join(f"{k} x{n}" for k, n in kinds.items()))
        with self._hooks_lock:
            self._finished.notify_all()

    def wait(self, timeout: float = 15.0) -> None:
        """Wait for the hooks of every alert raised so far, all within one ``timeout`` (not
        one per hook); an alert still queued or being delivered then is named in one WARNING
        (found by review: the bot exits right after this wait, and a webhook between its tries
        died with the process, unsaid), its retries end and its row stays for the next start.
        An alert raised after this waits for its own hooks within the same ``timeout``."""
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
                left = [n for n in self._alerts if n == number or n < number and not alone]
                remaining = deadline - time.monotonic()
                if not left or remaining <= 0:
                    break
                self._finished.wait(remaining)
            if not left:
                return
            self._stopped.set()  # retries end; what waits for a failing hook is not tried
            late = [self._alerts[n] for n in sorted(left)]
            queued = collections.Counter(n for n, _ in self._queue)
            for n in left:
                self._alerts[n].named = True
                alert = self._alerts[n]
                if queued[n] == len(alert.hooks) and alert.row is not None and (
                        self.outbox is not None):  # not in flight: left to its row
                    del self._alerts[n]
            self._queue = [(n, h) for n, h in self._queue if n in self._alerts]
            self._queued.notify_all()
        names = ", ".join(a.what for a in late[:3]) + (
            f" and {len(late) - 3} more" if len(late) > 3 else "")
        self.logger.warning("alert hooks: {} still being delivered after {:g} s; {}", names,
                            timeout, _kept(self, late[0]))


def _name(queue: HookQueue, hook: str) -> str:
    """The hook in a log line, never its arguments or the URL's path and query."""
    if hook == "command":
        return f"command {program(queue.command)}"
    return f"webhook {webhook_name(queue.webhook)}"


def _kept(queue: HookQueue, alert: _Alert) -> str:
    if alert.row is not None and queue.outbox is not None:
        return "kept in the outbox for the next start"
    return "it may not arrive (the bot is stopping)"


def _span(seconds: float) -> str:
    if seconds >= 3600:
        return f"{seconds / 3600:.0f} h"
    return f"{seconds / 60:.0f} min" if seconds >= 60 else f"{seconds:.0f} s"
