"""A background sender: callers enqueue and return at once (an actor, the supervisor or the run
loop is never held up by the network); one thread sends and retries with backoff.

Alerts go before replies and replies before trade notices, each class in the order it was queued
(an escalation never waits behind a backlog of notices, even one being retried). After a failed
attempt the sender waits ``retry_initial_s`` doubling up to ``retry_max_s``; a 429's
``retry_after`` lengthens that wait (never beyond ``retry_max_s``) but never shortens it, so a
server answering ``retry_after: 0`` cannot make it loop. The first failure is logged, then at
most one line per ``log_every_s`` with the count of failed attempts, and one when sending works
again. A message that failed ``set_aside_after`` attempts for itself is set aside behind every
other queued message (logged once) and retried from there, so one that keeps failing (a proxy's
413 to a long text) never blocks later ones; an attempt that every message would fail so
(Telegram or the network down, a 5xx, a 429) does not count, so an alert keeps its place
through an outage. A permanent refusal (e.g. unknown chat) is logged as an
error with the message kind;
whatever is still queued when the bot stops is logged as not sent, and a message whose request
Telegram has not answered by then as in flight. At most ``max_notices`` trade notices wait
(Telegram down for hours with ``notify_trades``: the queue grew without bound, and each notice
was sent hours late once it answered); a newer one is dropped, said in one line, then one line
per ``log_every_s`` with the count. Alerts and replies are never dropped. Nothing is dropped
without a log line.

With an ``outbox`` (notifications/outbox.py) every queued message is written there first and
taken out once Telegram took it or refused it for good: what a killed or stopped run left
unsent is sent at the next start, ahead of what that run queues, each marked as queued
before the restart.
"""

from __future__ import annotations

import dataclasses
import itertools
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from notifications.outbox import Outbox
from notifications.telegram import SendFailed

ALERT, REPLY, NOTICE = 0, 1, 2
"""Priorities: lower goes first."""
_SET_ASIDE = 3
"""A message that failed ``set_aside_after`` times for itself: after all the others."""
_STOP = 9
MAX_NOTICES = 1000
"""Trade notices waiting at most (queued or being retried); a newer one is dropped, said."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Outgoing:
    chat_id: int
    text: str
    kind: str
    """What it is about (escalation, kill_switch, protection, trade, reply), for the logs."""
    priority: int = NOTICE
    row: int | None = None
    """Its outbox row (None: not kept across a restart)."""


class BackgroundSender:
    def __init__(self, *, send: Callable[[int, str], None], logger: Any,
                 retry_initial_s: float = 1.0, retry_max_s: float = 60.0,
                 log_every_s: float = 60.0, set_aside_after: int = 5,
                 max_notices: int = MAX_NOTICES,
                 clock: Callable[[], float] = time.monotonic,
                 outbox: Outbox | None = None,
                 chats: tuple[int, ...] | None = None) -> None:
        """`chats`: the chats listed now (None: any); what an earlier run left for another
        chat is dropped, said, not sent."""
        self._send = send
        self._chats = chats
        self.outbox = outbox
        self.log = logger
        self.retry_initial_s, self.retry_max_s = retry_initial_s, retry_max_s
        self.log_every_s, self._clock = log_every_s, clock
        self.set_aside_after = set_aside_after
        self.max_notices = max_notices
        self._notices = 0
        """Trade notices queued or being sent (under ``_submit_lock``)."""
        self._dropped_notices = 0
        """Notices dropped since the last line that said so (under ``_submit_lock``)."""
        self._dropped_line: float | None = None
        self.notices_dropped = 0
        self._failures: dict[int, int] = {}
        """Failed attempts of each queued message that failed (by its queue order number)."""
        self._queue: queue.PriorityQueue[tuple[int, int, Outgoing | None]] = (
            queue.PriorityQueue())
        self._order = itertools.count()
        self._stop = threading.Event()
        self._wake = threading.Event()
        """Cuts a retry wait short: set by stop(), so what is queued gets one more attempt."""
        self._stopped = False
        """Set by stop(): from then on a submitted message is logged, not queued."""
        self._submit_lock = threading.Lock()
        self._drained = False
        """Set by stop() once it took what was left in the queue (under ``_submit_lock``)."""
        self._in_flight: Outgoing | None = None
        """The message being sent (its request may outlive stop(); under ``_submit_lock``)."""
        self._thread = threading.Thread(target=self._run, name="telegram-sender", daemon=True)
        self._delay = retry_initial_s
        self._streak = 0
        """Failed attempts in a row (any message); 0 while sending works."""
        self._unlogged = 0
        self._last_line: float | None = None
        self.sent = 0
        self.failed_attempts = 0
        self.dropped = 0
        if outbox is not None:
            self._restore(outbox)

    def _restore(self, outbox: Outbox) -> None:
        """Queue what an earlier run left in the outbox, before anything this run queues."""
        try:
            left = outbox.left()
        except Exception as exc:  # noqa: BLE001 - a damaged file never stops the sender
            self.log.error("telegram: the messages the last run left unsent cannot be read "
                           "from {} ({})", outbox.path, exc)
            return
        for row, chat_id, text, kind, priority, queued_at in left:
            if self._chats is not None and chat_id not in self._chats:
                self.log.warning("telegram: {} message to chat {} left by the last run "
                                 "dropped: that chat is no longer in telegram.chat_ids",
                                 kind, chat_id)
                outbox.remove(row)
                continue
            when = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(queued_at))
            item = Outgoing(chat_id=chat_id, kind=kind, priority=priority, row=row,
                            text=f"(queued at {when}, before a restart) {text}")
            if item.priority == NOTICE:
                self._notices += 1
            self._queue.put((item.priority, next(self._order), item))
        if self._queue.qsize():
            self.log.warning("telegram: {} message(s) the last run left unsent are sent now",
                             self._queue.qsize())

    def _kept(self, item: Outgoing) -> Outgoing:
        """``item`` with its outbox row, written now (before it is queued)."""
        if self.outbox is None or item.row is not None:
            return item
        row = self.outbox.add(item.chat_id, item.text, item.kind, item.priority)
        return dataclasses.replace(item, row=row)

    def start(self) -> None:
        self._thread.start()

    def submit(self, item: Outgoing) -> None:
        """Queue ``item``; once the sender has stopped, it is logged as not sent instead (an
        alert raised while the bot stops its actors, after its operator services)."""
        with self._submit_lock:  # never queued after stop() looked at the queue for good
            if not self._full(item):  # kept first, also once stopped: sent at the next start
                item = self._kept(item)
            if not self._stopped and not self._full(item):
                if item.priority == NOTICE:
                    self._notices += 1
                self._queue.put((item.priority, next(self._order), item))
                return
            if not self._stopped:
                self._drop_notice(item)
                return
        self._unsent(item, "(the sender has stopped)")

    def _full(self, item: Outgoing) -> bool:
        return item.priority == NOTICE and self._notices >= self.max_notices

    def _drop_notice(self, item: Outgoing) -> None:
        """A notice over ``max_notices`` (under ``_submit_lock``): the first of a run said at
        once, then at most one line per ``log_every_s`` with the count."""
        self.notices_dropped += 1
        self._dropped_notices += 1
        now = self._clock()
        if self._dropped_line is not None and now - self._dropped_line < self.log_every_s:
            return
        self.log.error("telegram: {} trade notice(s) dropped, not sent: {} notices already "
                       "wait for Telegram (alerts are never dropped); last dropped: {} to chat "
                       "{}: {!r}", self._dropped_notices, self._notices, item.kind,
                       item.chat_id, item.text[:200])
        self._dropped_line, self._dropped_notices = now, 0

    def _finished(self, item: Outgoing) -> None:
        """``item`` left the queue for good (sent, refused, or failed in a bug)."""
        if self.outbox is not None and item.row is not None:
            self.outbox.remove(item.row)
        if item.priority == NOTICE:
            with self._submit_lock:
                self._notices -= 1

    def stop(self, timeout_s: float = 5.0) -> None:
        """Send what is queued for up to ``timeout_s`` (a message waiting out its backoff is
        tried again at once), then log whatever is left unsent."""
        with self._submit_lock:
            self._stopped = True
        self._queue.put((_STOP, next(self._order), None))
        self._wake.set()  # a backoff of up to retry_max_s would outlast timeout_s
        if self._thread.ident is not None:  # started (a bot whose start failed before it: not)
            self._thread.join(timeout_s)
            self._stop.set()
            self._wake.set()
            self._thread.join(1.0)
        left = []
        with self._submit_lock:  # a send still in flight and failing later is logged by _run
            self._drained = True
            in_flight = self._in_flight if self._thread.is_alive() else None
            while True:
                try:
                    _, _, item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is not None:
                    left.append(item)
        for item in left:
            self._unsent(item, "before shutdown")
        with self._submit_lock:
            held, self._dropped_notices = self._dropped_notices, 0
        if held:
            self.log.error("telegram: {} more trade notice(s) were dropped (too many waiting) "
                           "since the last line that said so", held)
        if in_flight is not None:  # the process may exit before its answer: said now
            again = ("; kept in the outbox: sent again at the next start"
                     if in_flight.row is not None else "")
            self.log.error("telegram: {} message to chat {} still in flight at shutdown (no "
                           "answer from Telegram yet): it may not arrive{}: {!r}", in_flight.kind,
                           in_flight.chat_id, again, in_flight.text[:200])

    def _unsent(self, item: Outgoing, why: str) -> None:
        # repr: a multi-line message (a /status reply) stays one log line
        kept = "; kept in the outbox: sent at the next start" if item.row is not None else ""
        self.log.error("telegram: {} message to chat {} not sent {}{}: {!r}", item.kind,
                       item.chat_id, why, kept, item.text[:200])

    @property
    def pending(self) -> int:
        return self._queue.qsize()

    def _run(self) -> None:
        while not self._stop.is_set():
            entry = self._queue.get()
            item = entry[2]
            if item is None:
                return
            with self._submit_lock:
                self._in_flight = item
            try:
                wait, counts = self._attempt(item)
            except Exception as exc:  # noqa: BLE001 - the sender thread must outlive any bug
                self.dropped += 1
                self._finished(item)
                self._failures.pop(entry[1], None)
                self.log.error("telegram: {} message to chat {} not sent ({}); sender goes on",
                               item.kind, item.chat_id, type(exc).__name__)
                continue
            finally:
                with self._submit_lock:
                    self._in_flight = None
            failed = self._failures.pop(entry[1], 0) + counts
            if wait is None:
                self._finished(item)
                continue
            if failed >= self.set_aside_after:  # behind every other message, not in front
                if counts and failed == self.set_aside_after:  # said once, as it is set aside
                    self.log.warning("telegram: {} message to chat {} failed {} times: set aside "
                                     "behind the other messages, still retried",
                                     item.kind, item.chat_id, failed)
                entry = (_SET_ASIDE, next(self._order), item)
            self._failures[entry[1]] = failed
            with self._submit_lock:
                late = self._drained
                if not late:
                    self._queue.put(entry)  # keeps its place: first of its class, after alerts
            if late:  # stop() gave up waiting and reported the queue while this one was sent
                self._unsent(item, "before shutdown")
                return
            woken = self._wake.wait(wait)
            if self._stop.is_set():
                return  # stop() reports it
            if woken:  # stop() began: one attempt now, then the backoff again
                self._wake.clear()

    def _attempt(self, item: Outgoing) -> tuple[float | None, int]:
        """Sends ``item`` once: (None when sent or refused for good, else the wait before the
        next attempt; 1 when the failure counts toward setting it aside, else 0). A failure
        that every message would meet (Telegram or the network down, a 5xx, a 429) is not
        counted: found by review, an outage of 15 s set the alert at the head aside behind
        every queued trade notice, which all went out first once Telegram answered again."""
        try:
            self._send(item.chat_id, item.text)
        except SendFailed as exc:
            failure: SendFailed = exc
        except Exception as exc:  # noqa: BLE001 - any failure is retried, never fatal
            failure = SendFailed(reason=f"{type(exc).__name__}")
        else:
            self.sent += 1
            self._works_again()
            return None, 0
        self.failed_attempts += 1
        if failure.permanent:
            self.dropped += 1
            self.log.error("telegram: {} message to chat {} refused, not retried: {}",
                           item.kind, item.chat_id, failure)
            self._works_again(quiet=True)  # the server answered: the next one starts afresh
            return None, 0
        wait = self._next_wait(failure.retry_after)
        self._failed(item, failure, wait)
        return wait, 0 if failure.general else 1

    def _next_wait(self, retry_after: float | None) -> float:
        """The backoff (``retry_initial_s`` doubling up to ``retry_max_s``), lengthened by the
        server's ``retry_after`` up to ``retry_max_s``; never below ``retry_initial_s``."""
        cap = max(self.retry_max_s, self.retry_initial_s)
        wait = max(self._delay, self.retry_initial_s)
        if retry_after is not None and retry_after > wait:
            wait = min(retry_after, cap)
        self._delay = min(self._delay * 2, cap)
        return wait

    def _failed(self, item: Outgoing, failure: SendFailed, wait: float) -> None:
        """The first failure of a run is logged, then one line per ``log_every_s`` at most."""
        self._streak += 1
        self._unlogged += 1
        now = self._clock()
        if self._last_line is not None and now - self._last_line < self.log_every_s:
            return
        since = (f"; {self._unlogged} failed attempts since the last line"
                 if self._last_line is not None else
                 f"; further failures: one line per {self.log_every_s:g}s at most")
        self.log.warning("telegram: sending {} to chat {} failed (attempt {}): {}; "
                         "retrying in {:.3g}s{}", item.kind, item.chat_id, self._streak,
                         failure, wait, since)
        self._last_line, self._unlogged = now, 0

    def _works_again(self, *, quiet: bool = False) -> None:
        if self._streak and not quiet:
            self.log.info("telegram: sending works again after {} failed attempts",
                          self._streak)
        self._delay, self._streak, self._unlogged, self._last_line = (
            self.retry_initial_s, 0, 0, None)
