"""Venue blocks that outlive the process: a 429 with Retry-After, a Binance minute spent, a
Bybit IP ban.

A venue's refusal blocks its IP budget in memory (exchange/budget.py `block_for`), so the bot
sends nothing until the venue's reset. A process that restarted inside that window (a crash,
a worker restarted by its parent, a person's restart) forgot it and asked again at once:
exactly the "failing to back off after a 429" that Binance answers with IP bans growing from
2 minutes to 3 days. So each IP block is also written, as a wall-clock deadline per venue and
API host, to a small file in the data dir (0600, replaced atomically under an exclusive lock:
a machine's worker processes share the file, and the venue's limit is per IP), and a budget
built later for that venue and host starts blocked until the deadline. Deadlines in the past
are dropped on the next write.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import math
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from loguru import logger

from storage.atomic_file import atomic_write_text, remove_leftover_temps

FILE = "venue_blocks.json"
MAX_BLOCK_S = 3 * 86400.0
"""The longest block kept (Binance's longest IP ban): a deadline further out, or not a finite
number (a damaged file, a venue header of 'inf'), is not believed. Deleting the file clears
every remembered block."""


class VenueBlocks:
    def __init__(self, path: Path, wall: Callable[[], float] = time.time) -> None:
        self.path = Path(path)
        self._wall = wall
        self._refusal: str | None = None
        remove_leftover_temps(self.path)  # a kill -9 between a write and its rename left them

    def remaining(self, venue: str, host: str) -> float:
        """Seconds the venue and host stay blocked (0: not blocked, or unreadable)."""
        try:
            with self._locked():
                until = self._read().get(_key(venue, host), 0.0)
        except OSError:
            return 0.0  # no file to lock (a read-only data dir): nothing remembered
        return max(until - self._wall(), 0.0)

    def note(self, venue: str, host: str, seconds: float) -> None:
        """The venue blocked this IP for `seconds` from now (kept if it ends later). A file
        that cannot be written costs only the memory across a restart: one warning."""
        try:
            self._note(venue, host, seconds)
        except OSError as exc:
            logger.warning("{}: could not keep the venue's block in {}: {}", venue, self.path,
                           exc)

    def _note(self, venue: str, host: str, seconds: float) -> None:
        now = self._wall()
        with self._locked():
            blocks = {k: v for k, v in self._read().items() if v > now}
            key = _key(venue, host)
            if not math.isfinite(seconds) or seconds <= 0:
                return
            blocks[key] = max(blocks.get(key, 0.0), now + min(seconds, MAX_BLOCK_S))
            atomic_write_text(self.path, json.dumps(blocks))  # fsynced, rename fsynced too

    def _read(self) -> dict[str, float]:
        try:
            data = json.loads(self.path.read_text())
        except FileNotFoundError:
            return {}  # none yet
        except (OSError, ValueError, RecursionError) as exc:  # RecursionError: nested too deep
            reason = "nested too deep" if isinstance(exc, RecursionError) else exc
            return self._refused(f"not readable ({reason})")
        if not isinstance(data, dict):
            return self._refused(f"a JSON {type(data).__name__}, not an object")
        latest = self._wall() + MAX_BLOCK_S
        out: dict[str, float] = {}
        for k, v in data.items():
            try:
                until = float(v)
            except (TypeError, ValueError, OverflowError):
                continue
            if math.isfinite(until):
                out[str(k)] = min(until, latest)
        return out

    def _refused(self, problem: str) -> dict[str, float]:
        """A damaged file (a hand edit): no block is believed from it (the venue will say
        again), one warning naming it per problem, and the next block noted replaces it."""
        if problem != self._refusal:
            self._refusal = problem
            logger.warning("{}: {}; no venue block is taken from it", self.path, problem)
        return {}

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        fd = os.open(self.path.with_suffix(".lock"), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)


def _key(venue: str, host: str) -> str:
    return f"{venue} {host}"
