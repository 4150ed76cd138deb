"""The stop request shared by the signal handlers and the run loop.

Installed first thing in bot.py, before the heavy imports, so a SIGTERM that arrives while the
bot is still starting is a graceful stop too, not a kill."""

from __future__ import annotations

import os
import signal
import sys
import threading
from typing import Any

requested = threading.Event()
received: list[str] = []
_wake: int | None = None
"""Write end of the pipe the handler writes to (`install`)."""


def _handler(signum: int, _frame: Any) -> None:
    # Runs in the main thread between two of its bytecodes, possibly while that thread holds
    # `requested`'s own lock (the run loop waits on it several times a second): setting the
    # event here could wait for that lock for ever. A CI run saw exactly that: SIGTERM, then
    # nothing for 60 s, no "stopping" line. The handler takes no lock: a list append and one
    # byte to a pipe; the watcher thread sets the event.
    received.append(signal.Signals(signum).name)
    if _wake is None:  # not installed here (a forked child): as before
        requested.set()
    else:
        os.write(_wake, b"\0")


def _watch(fd: int) -> None:
    while os.read(fd, 1):
        requested.set()


def _forked() -> None:
    global _wake
    _wake = None  # the watcher thread does not survive a fork


os.register_at_fork(after_in_child=_forked)


def install() -> None:
    global _wake
    if _wake is None:
        read_end, _wake = os.pipe()
        threading.Thread(target=_watch, args=(read_end,), name="stop-signals",
                         daemon=True).start()
    signal.signal(signal.SIGTERM, _handler)
    signal.signal(signal.SIGINT, _handler)


class StartStopped(Exception):  # noqa: N818 - not an error: the stop the user asked for
    """The stop request arrived while the bot was starting: the start ends after the exchange
    call in flight (not an ExchangeError, so no retry and no start check swallows it)."""


class StartFence:
    """The fence of the start's exchange calls (the markets read, the key check), checked by the
    gateway before each attempt and after each backoff (exchange/fence.py `check_fence`). Without
    it a SIGTERM during start waited out every retry of a venue that never answers: 119 s with
    the default timeout, then exit code 2 (found by review)."""

    def __init__(self, account: str) -> None:
        self.account = account

    def check(self) -> None:
        if requested.is_set():
            raise StartStopped(f"stop requested while starting (account {self.account}): "
                               "no actor started, nothing was traded")


def finished() -> None:
    """The stop is done and the command returns: SIGINT/SIGTERM are ignored from here on. Python
    puts the default handlers back while it finalizes, so a second Ctrl-C (or a service
    manager's repeated SIGTERM) landing there killed the process after its clean stop: exit
    code 130/143 instead of 0 (found by review). SIGKILL still ends a process stuck at exit."""
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def reader_gone() -> int:
    """The reader of a command's output went away (`bot.py status | head -1`): not a fault of
    the command, so no error line and no traceback in the bot's log (a second process must not
    write into a running bot's log). Later writes, such as the interpreter's own flush at exit,
    go to /dev/null instead of failing again. Exit code 0, as the output was only cut short."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, sys.stdout.fileno())
    finally:
        os.close(devnull)
    return 0
