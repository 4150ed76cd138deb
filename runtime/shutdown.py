"""The stop request shared by the signal handlers and the run loop.

Installed first thing in bot.py, before the heavy imports, so a SIGTERM that arrives while the
bot is still starting is a graceful stop too, not a kill."""

from __future__ import annotations

import signal
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
