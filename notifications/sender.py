"""A background sender: callers enqueue and return at once (an actor, the supervisor or the run
loop is never held up by the network); one thread sends in order and retries with backoff.

A failed send is retried and logged each time; a permanent refusal (e.g. unknown chat) is logged
as an error with the message kind; whatever is still queued when the bot stops is logged as not
sent. Nothing is dropped without a log line.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from notifications.telegram import SendFailed


@dataclass(frozen=True, slots=True, kw_only=True)
class Outgoing:
    chat_id: int
    text: str
    kind: str
    """What it is about (escalation, kill_switch, protection, trade, reply), for the logs."""


class BackgroundSender:
    def __init__(self, *, send: Callable[[int, str], None], logger: Any,
                 retry_initial_s: float = 1.0, retry_max_s: float = 60.0) -> None:
        self._send = send
        self.log = logger
        self.retry_initial_s, self.retry_max_s = retry_initial_s, retry_max_s
        self._queue: queue.Queue[Outgoing | None] = queue.Queue()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="telegram-sender", daemon=True)
        self.sent = 0
        self.failed_attempts = 0
        self.dropped = 0

    def start(self) -> None:
        self._thread.start()

    def submit(self, item: Outgoing) -> None:
        self._queue.put(item)

    def stop(self, timeout_s: float = 5.0) -> None:
        """Send what is queued for up to ``timeout_s``, then log whatever is left unsent."""
        self._queue.put(None)
        self._thread.join(timeout_s)
        self._stop.set()
        self._thread.join(1.0)
        left = []
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is not None:
                left.append(item)
        for item in left:
            self.log.error("telegram: {} message to chat {} not sent before shutdown: {}",
                           item.kind, item.chat_id, item.text[:200])

    @property
    def pending(self) -> int:
        return self._queue.qsize()

    def _run(self) -> None:
        while not self._stop.is_set():
            item = self._queue.get()
            if item is None:
                return
            try:
                done = self._deliver(item)
            except Exception as exc:  # noqa: BLE001 - the sender thread must outlive any bug
                self.dropped += 1
                self.log.error("telegram: {} message to chat {} not sent ({}); sender goes on",
                               item.kind, item.chat_id, type(exc).__name__)
                continue
            if not done:
                self._queue.put(item)  # keep it for stop() to report
                return

    def _deliver(self, item: Outgoing) -> bool:
        """True when sent or refused for good; False when the sender is stopping first."""
        delay, attempt = self.retry_initial_s, 0
        while not self._stop.is_set():
            attempt += 1
            try:
                self._send(item.chat_id, item.text)
                self.sent += 1
                return True
            except SendFailed as exc:
                failure: SendFailed = exc
            except Exception as exc:  # noqa: BLE001 - any failure is retried, never fatal
                failure = SendFailed(reason=f"{type(exc).__name__}")
            self.failed_attempts += 1
            if failure.permanent:
                self.dropped += 1
                self.log.error("telegram: {} message to chat {} refused, not retried: {}",
                               item.kind, item.chat_id, failure)
                return True
            wait = failure.retry_after if failure.retry_after is not None else delay
            self.log.warning("telegram: sending {} to chat {} failed (attempt {}): {}; "
                             "retrying in {:.1f}s", item.kind, item.chat_id, attempt, failure, wait)
            if self._stop.wait(wait):
                break
            delay = min(delay * 2, self.retry_max_s)
        return False
