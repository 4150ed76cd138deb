"""The run loop's steps on one account (its status, its queued controls) against the account's
stop on another thread: a cluster node hands an account over (balance, a lease lost or taken
over) on its own thread, while the run loop works from the list of accounts it took at the start
of its round (runtime/cluster_node.py `_serve`).

Found by review: the round then met an account being stopped or already closed; its status and
controls steps logged an AssertionError traceback, and a `bot.py signal` met while the actors had
just stopped was marked "skipped: the actor is stopped" instead of staying queued for the node
that takes the account over. Now a step and the stop exclude each other: a step runs on an
account that stays for the whole step, or does not run at all (AccountLeft: the round skips the
account, its controls stay queued in the account's database for the next owner).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from observability.error_text import describe

STEP_WAIT_S = 30.0
"""How long a stop waits for a step under way (each of its database calls has a deadline)."""


class AccountLeft(Exception):
    """The account is leaving this process (stopping): the run loop's step did not run."""


class RoundGate:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._leaving = threading.Event()
        self._aborting = False
        """Set with `leave(aborting=True)`: the stop aborts the account's database calls."""

    @contextmanager
    def step(self) -> Iterator[None]:
        """One step of the run loop on the account, which stays until the step ends; raises
        AccountLeft, running nothing, once the account is leaving, and in place of the step's
        error when the account's stop began during it and aborts its database calls."""
        if self._leaving.is_set():
            raise AccountLeft
        with self._lock:
            if self._leaving.is_set():  # its stop began while this step waited for the lock
                raise AccountLeft
            try:
                yield
            except Exception as exc:
                if not (self._leaving.is_set() and self._aborting):
                    raise
                # its stop began during the step and aborted the account's database calls in
                # flight (runtime/node_accounts.py `NodeAccount.stop`: a lapsed lease): the
                # step was cut short by the stop, not failed. Found by the partition tests:
                # each such step logged an ERROR ("controls of account acct0 failed: database
                # closed: its calls were aborted") with a traceback, on a node doing as designed
                raise AccountLeft(f"cut short by its stop: {describe(exc)}") from exc

    def leave(self, *, aborting: bool = False) -> None:
        """No step starts from now on (the account's stop begins). `aborting`: the stop aborts
        the account's database calls in flight, so a step under way that fails from now on
        raises AccountLeft instead of its error."""
        self._aborting = self._aborting or aborting
        self._leaving.set()

    def wait_steps(self, timeout_s: float = STEP_WAIT_S) -> bool:
        """Wait for a step under way to end; False if one still runs after `timeout_s`."""
        if not self._lock.acquire(timeout=timeout_s):
            return False
        self._lock.release()
        return True
