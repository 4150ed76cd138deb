"""LeaseKeeper: one thread per (node, account) that acquires the account's lease, renews it a
third of its TTL after the previous renewal was SENT, and tells the node whether it may act on
the account right now.

`may_act()` is decided by the node's monotonic clock alone, not by the keeper thread making
progress: each successful acquire/renew sets a deadline of (monotonic time the request was
SENT) + TTL - safety margin. The database set the expiry to (its clock when it ran the
statement) + TTL, which is later, so the node stops acting before the lease can expire even if
the database, the network or this thread hangs. A lost lease (renewal refused) is final for its
epoch: the keeper goes back to acquiring, which yields a new epoch. A keeper takes another
node's lease only once the database says it expired (+ grace) and it has itself seen the row
unchanged for ttl + grace (the longer of its own and the holder's) on its own monotonic clock (a
database clock step cannot shorten it); a row renewed more than the TTL ahead of the database
clock (set back since: a live holder's renewal puts it back in line) is taken after that wait
alone (a clock set back cannot lengthen it: storage/leases.py `acquire`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from loguru import logger

from cluster.lease import Lease, LeaseSettings, LeaseStoreUnavailable

_WANT_POLL_S = 0.25
"""How often a keeper whose node does not want the account asks again."""


class LeaseBackend(Protocol):
    """What the keeper needs from a lease store (`storage.leases.LeaseStore`)."""

    def acquire(self, account: str, owner: str) -> Lease | None: ...

    def renew(self, lease: Lease) -> Lease | None: ...

    def release(self, lease: Lease) -> bool: ...

    def takeover_view(self, account: str) -> tuple[float, tuple[str, int, int, int] | None]:
        ...


@dataclass(frozen=True, slots=True, kw_only=True)
class LeaseChanged:
    """What the keeper reports to its listener when the node's right to act changes."""

    account: str
    """The account concerned."""
    lease: Lease | None
    """The new lease (acquired), or None (lost, released or stopped)."""
    reason: str
    """'acquired' | 'lost' | 'released' | 'unreachable' (may_act ran out without a renewal)
    | 'recovered' (renewed again, same epoch, before the lease expired)."""


class LeaseHolder(Protocol):
    """What the fences ask of a keeper (`LeaseKeeper`, or `EpochKeeper` for one epoch)."""

    @property
    def account(self) -> str: ...

    @property
    def node_id(self) -> str: ...

    def acting_lease(self) -> Lease | None: ...

    def last_lease(self) -> Lease | None: ...

    def may_act(self) -> bool: ...


class EpochKeeper:
    """The keeper as an account started under one lease sees it: the node may act for that
    account only while the keeper's acting lease is that lease's epoch. A keeper that lost the
    lease acquires the account again by itself (a new epoch) until the node thread replaces
    it, and the node thread may be busy (stopping or starting another account) while the
    account started under the old epoch still runs, with its state from before the gap, in
    which another node may have traded the account: its sends and commits must stay refused."""

    def __init__(self, keeper: LeaseHolder, lease: Lease) -> None:
        self._keeper = keeper
        self._lease = lease

    @property
    def account(self) -> str:
        return self._keeper.account

    @property
    def node_id(self) -> str:
        return self._keeper.node_id

    def acting_lease(self) -> Lease | None:
        lease = self._keeper.acting_lease()
        return lease if lease is not None and lease.epoch == self._lease.epoch else None

    def last_lease(self) -> Lease | None:
        return self._lease

    def may_act(self) -> bool:
        return self.acting_lease() is not None


class LeaseKeeper:
    def __init__(
        self,
        *,
        store: LeaseBackend,
        account: str,
        node_id: str,
        settings: LeaseSettings,
        on_change: Callable[[LeaseChanged], None] | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        wants: Callable[[], bool] = lambda: True,
    ) -> None:
        self._store = store
        self.account = account
        self.node_id = node_id
        self._settings = settings
        self._on_change = on_change or (lambda change: None)
        self._monotonic = monotonic
        self._wants = wants
        """Asked before each acquisition attempt: the node's balancing says whether it should
        take one more account now (a held lease is renewed regardless)."""
        self._lock = threading.Lock()
        self._lease: Lease | None = None
        self._previous: Lease | None = None
        self._deadline = float("-inf")
        self._holder: tuple[str, int, int, int] | None = None
        """Another holder's row (owner, epoch, renewed_at_ms, grace_ms) as this keeper last saw
        it, and since when on this node's clock (`_wait_to_acquire`)."""
        self._holder_since = float("-inf")
        self._next_look = float("-inf")
        self._looked_at: float | None = None
        self._why_not: tuple[object, ...] | None = None
        """Why the last acquisition did not happen (`_cannot_acquire`): logged on change only."""
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name=f"lease-{account}", daemon=True)

    # ---- what the node asks ----------------------------------------------------------------

    def may_act(self) -> bool:
        """True while the node holds the lease and its local deadline has not passed."""
        with self._lock:
            return self._lease is not None and self._monotonic() < self._deadline

    def acting_lease(self) -> Lease | None:
        """The lease to act (and fence commits) under, or None when the node must not act."""
        with self._lock:
            if self._lease is not None and self._monotonic() < self._deadline:
                return self._lease
            return None

    @property
    def stopped(self) -> bool:
        """True once `stop` was called: the keeper neither renews nor acquires any more."""
        return self._stop.is_set()

    def last_lease(self) -> Lease | None:
        """The lease last held, whether or not the node may still act on it (for messages)."""
        with self._lock:
            return self._lease or self._previous

    # ---- lifecycle -------------------------------------------------------------------------

    def start(self) -> LeaseKeeper:
        self._thread.start()
        return self

    def stop(self, *, release: bool = True) -> None:
        """Stop renewing; with `release`, give the account up at once (call this only after the
        node stopped acting on it) so another node need not wait for the lease to expire."""
        self._stop.set()
        self._thread.join(self._settings.ttl_s + 5)
        with self._lock:
            lease, self._lease, self._deadline = self._lease, None, float("-inf")
            self._previous = lease or self._previous
        if lease is None:
            return
        if release:
            try:
                self._store.release(lease)
            except LeaseStoreUnavailable as exc:
                logger.warning("{}: release of epoch {} failed ({}); it expires by itself",
                               self.account, lease.epoch, exc)
        self._on_change(LeaseChanged(account=self.account, lease=None, reason="released"))

    # ---- the loop ----------------------------------------------------------------------------

    def _run(self) -> None:
        unreachable = False
        while not self._stop.is_set():
            held = self._current()
            if held is None:
                try:
                    wait = self._wait_to_acquire()
                except Exception:  # noqa: BLE001 - as below
                    logger.exception("{}: lease keeper step failed", self.account)
                    wait = self._retry_delay()
                if wait > 0:
                    self._stop.wait(wait)
                    continue
            sent_at = self._monotonic()
            try:
                lease = self._store.renew(held) if held else self._store.acquire(
                    self.account, self.node_id)
            except LeaseStoreUnavailable as exc:
                if held is None:
                    self._cannot_acquire(("unreachable",), f"lease database unreachable ({exc})",
                                         "WARNING")
                if held is not None and not self.may_act() and not unreachable:
                    unreachable = True
                    logger.error("{}: lease epoch {} not renewed in time ({}); stopped acting",
                                 self.account, held.epoch, exc)
                    self._on_change(LeaseChanged(account=self.account, lease=None,
                                                 reason="unreachable"))
                self._stop.wait(self._retry_delay())
                continue
            except Exception:  # noqa: BLE001 - a bug must not end the loop; may_act runs out
                logger.exception("{}: lease keeper step failed", self.account)
                self._stop.wait(self._retry_delay())
                continue
            self._settle(held, lease, sent_at, recovered=unreachable)
            unreachable = False
            self._stop.wait(self._next_attempt_in(lease, sent_at))

    def _current(self) -> Lease | None:
        with self._lock:
            return self._lease

    def _settle(self, held: Lease | None, lease: Lease | None, sent_at: float, *,
                recovered: bool) -> None:
        if self._stop.is_set():
            return  # stopped while the call was in flight: stop() already let go
        deadline = sent_at + self._settings.ttl_s - self._settings.safety_margin_s
        with self._lock:
            self._previous = self._lease or self._previous
            self._lease = lease
            self._deadline = deadline if lease is not None else float("-inf")
        if held is None and lease is not None:
            self._why_not = None
            logger.info("{}: lease acquired by {} at epoch {}", self.account, self.node_id,
                        lease.epoch)
            self._on_change(LeaseChanged(account=self.account, lease=lease, reason="acquired"))
        elif held is not None and lease is None:
            logger.error("{}: lease epoch {} lost (expired or taken over); stopped acting",
                         self.account, held.epoch)
            self._on_change(LeaseChanged(account=self.account, lease=None, reason="lost"))
        elif recovered and lease is not None:
            logger.warning("{}: lease epoch {} renewed again before it expired", self.account,
                           lease.epoch)
            self._on_change(LeaseChanged(account=self.account, lease=lease, reason="recovered"))

    def _next_attempt_in(self, lease: Lease | None, sent_at: float) -> float:
        """Holder: renew TTL/3 after the last renewal was sent (at once if that is past), as
        the deadline counts from the send too: a slow answer must not push the next renewal
        towards the deadline. Not acquired: `_wait_to_acquire` says when to try again."""
        if lease is not None:
            return max(sent_at + self._settings.renew_every_s - self._monotonic(), 0.0)
        return 0.005

    def _wait_to_acquire(self) -> float:
        """0: try to acquire now; else how long to wait first. A row nobody holds (new or
        released) is taken at once. Another holder's row must be takeable on the database
        clock (expiry + grace) AND unchanged for ttl + grace on this node's own clock since
        this keeper first saw it, so a database clock stepped forward cannot cut the holder's
        time short. Checked at least every TTL/3, also while the node does not want the
        account (it may want it the moment its holder dies), so each renewal is seen."""
        now, wanted = self._monotonic(), self._wants()
        idle = min(self._settings.renew_every_s, _WANT_POLL_S)
        if not wanted and now < self._next_look:
            return idle
        try:
            due, holder = self._store.takeover_view(self.account)
        except LeaseStoreUnavailable as exc:
            if wanted:
                self._cannot_acquire(("unreachable",), f"lease database unreachable ({exc})",
                                     "WARNING")
            return self._retry_delay()
        s, looked_at, self._looked_at = self._settings, self._looked_at, now
        self._next_look = now + s.renew_every_s
        if holder != self._holder:  # it changed after the previous look began: counted from
            # there, at most the safety margin before this look's answer (the holder stops
            # acting by its renewal + ttl - margin, so ttl + grace from here is still past its
            # last request); counted from this look, it cost every takeover up to ttl/3 more
            seen = self._monotonic()
            since = seen if looked_at is None else max(looked_at, seen - s.safety_margin_s)
            self._holder, self._holder_since = holder, since
        if not wanted:
            return idle
        if holder is None:
            return 0.0
        self._cannot_acquire(("held", holder[0], holder[1]),
                             f"held by node {holder[0]} at epoch {holder[1]}; taken only once "
                             "that lease expires or is released")
        # the longer grace of the two, as the database's check (found by review: this wait
        # took the taker's own, so a stepped database clock let a taker with a shorter exchange
        # timeout in while the holder's last request could still be in flight)
        grace_s = max(s.request_timeout_s, holder[3] / 1000)
        wait = max(due, self._holder_since + s.ttl_s + grace_s - now)
        return 0.0 if wait <= 0 else min(wait + 0.005, s.renew_every_s)

    def _cannot_acquire(self, state: tuple[object, ...], why: str, level: str = "INFO") -> None:
        """One line per account when the reason this node cannot acquire it changes (another
        holder, a database that does not answer), not one per attempt."""
        if state != self._why_not:
            self._why_not = state
            logger.log(level, "{}: lease not acquired by {}: {}", self.account, self.node_id, why)

    def _retry_delay(self) -> float:
        """While the database is unreachable, retry a few times per renewal period."""
        return self._settings.renew_every_s / 4
