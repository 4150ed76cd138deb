"""The interpreter's thread switch interval, set once when the bot (or a worker) starts.

Every actor, the feed, the stream loop and the database writer are Python threads sharing one
interpreter lock. CPython lets a thread that waits for the lock take it only after the running
thread has held it for the switch interval (5 ms by default). A price that crosses a stop passes
the lock at least four times before its close order leaves (feed -> actor, actor -> database
writer, writer back to the actor after the commit, and the actor's wake itself), and while the
feed delivers a batch of prices or ccxt handles a message each pass can wait a whole interval.
A shorter interval bounds those waits when the process has the cores to itself; its cost is
more forced switches, each needing the OS to run the thread that gets the lock. On the shared
2-core development machine (load average 20-40) a 1 ms or 0.25 ms interval made the whole
tick -> close path slower and used more CPU than the default (bench/README.md), so the default
stays Python's 5 ms. `bot.switch_interval_ms` sets it; the status dump shows the value in
force."""

from __future__ import annotations

import sys


def apply_switch_interval(ms: float) -> float:
    """Set the switch interval to `ms` milliseconds; returns the previous one (ms)."""
    previous = sys.getswitchinterval() * 1000
    sys.setswitchinterval(ms / 1000)
    return previous


def switch_interval_ms() -> float:
    """The switch interval in force (ms), for the status dump."""
    return round(sys.getswitchinterval() * 1000, 4)
