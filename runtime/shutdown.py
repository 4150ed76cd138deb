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


def _handler(signum: int, _frame: Any) -> None:
    received.append(signal.Signals(signum).name)
    requested.set()


def install() -> None:
    signal.signal(signal.SIGTERM, _handler)
    signal.signal(signal.SIGINT, _handler)


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
