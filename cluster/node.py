"""ClusterNode: one bot process as a node of a cluster. For every configured account it runs a
LeaseKeeper; it starts the account (restore and reconcile, the normal cold-start path) when its
keeper acquires the lease, stops it (positions and their stops stay on the exchange) when the
lease is lost, cannot be renewed in time, or is handed to another node by balancing.

Lease changes arrive from the keepers' threads and are handled on the node's own thread, in
order; the keepers themselves already stop the node acting (FencedExchange, the commit guard)
the moment the lease is gone, before this thread gets to stop the account.
"""

from __future__ import annotations

import os
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

from cluster.balance import AccountListWatch, NodeSeen, live_nodes, target, to_hand_over
from cluster.beat_outage import BeatOutage
from cluster.keeper import LeaseBackend, LeaseChanged, LeaseKeeper
from cluster.lease import Lease, LeaseSettings, LeaseStoreUnavailable
from cluster.node_ready import journal_when_ready
from cluster.node_types import (
    AccountHandle,
    Announce,
    Held,
    Registry,
    StartAbandoned,
    StartAccount,
    StartCancelled,
    outcome,
)
from cluster.start_backoff import StartBackoff
from observability.error_text import describe

__all__ = ["AccountHandle", "Announce", "ClusterNode", "Held", "Registry", "StartAbandoned",
           "StartAccount", "StartCancelled"]


_WATCHDOG_S = 0.1
"""How often the node thread looks for accounts whose lease lapsed, during a start too."""
START_WAIT_S = 60.0
"""How long a stop waits for an account's start (or stop) still under way on the node thread."""

class ClusterNode:
    def __init__(
        self,
        *,
        node_id: str,
        accounts: list[str],
        store: LeaseBackend,
        registry: Registry,
        settings: LeaseSettings,
        start_account: StartAccount,
        logger: Any,
        announce: Announce,
        balance_interval_s: float = 2.0,
        start_backoff: StartBackoff | None = None,
        alert: Callable[[str, str, str], None] | None = None,
        start_wait_s: float = START_WAIT_S,
    ) -> None:
        self.node_id = node_id
        self._start_wait_s = start_wait_s
        self.accounts = list(accounts)
        self._store = store
        self._registry = registry
        self._settings = settings
        self._start_account = start_account
        self._log = logger
        self._announce = announce
        self._balance_every = balance_interval_s
        self._backoff = start_backoff or StartBackoff()
        self._alert = alert or (lambda account, kind, message: None)
        """(account, kind, message) through the account's alert hooks, while it still runs
        here: an account stopped because this node lost its lease (not a hand-over)."""
        self._outage = BeatOutage(logger)  # how the heartbeat's failures are said
        self._lock = threading.Lock()
        self._keepers: dict[str, LeaseKeeper] = {}
        self._acquired: set[str] = set()
        self._held: dict[str, Held] = {}
        self._dropped: set[str] = set()
        """Stopped as their lease was not renewed in time while their keeper still holds it: a
        late renewal can make it valid again without any event."""
        self._unsafe: set[str] = set()
        """Accounts whose stop did not end cleanly (actors stuck, possibly mid-request, or stop/
        close raised): their lease is left to expire, never released (expiry + grace)."""
        self._cap = len(self.accounts)
        self._lists = AccountListWatch(node_id, self.accounts, logger)
        self._events: queue.Queue[tuple[LeaseKeeper, LeaseChanged] | None] = queue.Queue()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="cluster-node", daemon=True)
        self._seen: tuple[float, list[NodeSeen]] | None = None
        """The last heartbeat's view of the nodes (monotonic time it was read, rows)."""
        self._beater = threading.Thread(target=self._beat_loop, name="cluster-heartbeat",
                                        daemon=True)

    # ---- what the runner reads ------------------------------------------------------------

    def held(self) -> dict[str, Held]:
        with self._lock:
            return dict(self._held)

    def handles(self) -> list[AccountHandle]:
        return [h.handle for h in self.held().values()]

    # ---- lifecycle -------------------------------------------------------------------------

    def start(self) -> ClusterNode:
        self._seen = (time.monotonic(), self._beat())
        for account in self.accounts:
            self._new_keeper(account)
        self._thread.start()
        self._beater.start()
        return self

    def stop(self) -> None:
        """Stop every account (positions stay protected on the exchange), then release the
        leases so the other nodes take over at once instead of after expiry (not those of
        accounts that did not stop cleanly: see `_unsafe`)."""
        self._stop.set()
        self._events.put(None)
        if self._beater.ident is not None:  # started (a failed first beat starts neither)
            self._thread.join(self._start_wait_s)
            self._beater.join(1)  # a heartbeat hung on a dead connection is left behind
        busy = self._thread.is_alive()
        if busy:  # an account's start (or stop) may still have requests in flight
            self._log.error("cluster node {}: still starting or stopping an account after {:g} s;"
                            " leases not released (they expire)", self.node_id, self._start_wait_s)
        # at once, each on its own thread, as a single bot stops its accounts (found by review:
        # one after the other, each up to its actors' 30 s, the node's stop took minutes and
        # the leases of the accounts still waiting were renewed all that time); all stopped
        # before any lease is released below
        stoppers = [threading.Thread(target=self._stop_account, args=(account, "node stopping"),
                                     name=f"stop-{account}") for account in self.held()]
        for thread in stoppers:
            thread.start()
        for thread in stoppers:
            thread.join()
        with self._lock:
            keepers = list(self._keepers.values())
        # at once: each may wait for its renewal to time out (a database that does not answer)
        stops = [threading.Thread(target=keeper.stop, name=f"release-{keeper.account}",
                                  kwargs={"release": not busy
                                          and self._may_release(keeper.account)})
                 for keeper in keepers]
        for thread in stops:
            thread.start()
        for thread in stops:
            thread.join(self._settings.ttl_s + 10)
        try:
            self._registry.leave(self.node_id)
        except LeaseStoreUnavailable as exc:
            self._log.warning("cluster: could not deregister node {}: {}", self.node_id,
                              describe(exc))

    # ---- keepers ---------------------------------------------------------------------------

    def _new_keeper(self, account: str) -> None:
        made: list[LeaseKeeper] = []
        keeper = LeaseKeeper(store=self._store, account=account, node_id=self.node_id,
                             settings=self._settings,
                             on_change=lambda change: self._changed(made[0], change),
                             wants=lambda: self._wants_more(account))
        made.append(keeper)
        with self._lock:
            self._keepers[account] = keeper
        keeper.start()

    def _wants_more(self, account: str) -> bool:
        if self._backoff.waiting(account):
            return False  # its last start failed: not again before the backoff (StartBackoff)
        with self._lock:
            return not self._stop.is_set() and len(self._acquired) < self._cap

    def _changed(self, keeper: LeaseKeeper, change: LeaseChanged) -> None:
        """Keeper thread: count the lease at once (balancing), act on the node thread. Only the
        account's current keeper counts: a replaced one whose thread outlived its stop (a
        renewal hung past the join) may still report, and its late 'unreachable' would stop
        the account running under the new keeper's epoch (`_current`)."""
        with self._lock:
            if self._keepers.get(change.account) is not keeper:
                return self._stale(keeper, change)
            if change.lease is not None:
                self._acquired.add(change.account)
            else:
                self._acquired.discard(change.account)
        self._events.put((keeper, change))

    def _stale(self, keeper: LeaseKeeper, change: LeaseChanged) -> None:
        if change.reason == "released":
            return  # its own stop's report: the account was stopped before it was replaced
        last = keeper.last_lease()
        self._log.warning("{}: ignored '{}' from the replaced lease keeper of epoch {}",
                          change.account, change.reason, last.epoch if last else "none")

    def _current(self, keeper: LeaseKeeper, change: LeaseChanged) -> bool:
        """Node thread: a change queued by a keeper replaced since (an earlier change in the
        queue renewed it) is about an epoch that is over; acting on it would stop, or hand
        back, the account under its new keeper."""
        with self._lock:
            if self._keepers.get(change.account) is keeper:
                return True
        self._stale(keeper, change)
        return False

    # ---- the node thread -------------------------------------------------------------------

    def _run(self) -> None:
        next_balance = time.monotonic()
        while not self._stop.is_set():
            wait = min(max(next_balance - time.monotonic(), 0.01), _WATCHDOG_S)
            try:
                change = self._events.get(timeout=wait)
            except queue.Empty:
                change = None
            try:
                self._drop_unrenewed()
                self._retake_renewed_late()
                if change is not None and self._current(*change):
                    self._apply(change[1])
                if time.monotonic() >= next_balance:
                    next_balance = time.monotonic() + self._balance_every
                    self._balance()
            except Exception as exc:  # noqa: BLE001 - the node keeps managing its accounts
                self._log.opt(exception=exc).error("cluster node step failed: {}", exc)

    def _drop_unrenewed(self) -> None:
        """Stop every account whose keeper may no longer act, without waiting for the keeper
        to say so: its renewal may hang on a connection that never answers (a hung server
        ACKs and says nothing), and the account must not keep running on a lapsed lease."""
        for account in list(self.held()):
            with self._lock:
                keeper = self._keepers.get(account)
            if keeper is None or keeper.may_act():
                continue
            self._log.error("{}: lease epoch {} not renewed in time; stopping the account "
                            "without closing positions", account, self._epoch_of(account))
            self._lapsed(account, "was not renewed in time (the lease database did not answer)")
            self._stop_account(account, "lease not renewed in time")
            with self._lock:
                self._dropped.add(account)

    def _retake_renewed_late(self) -> None:
        """An account dropped by `_drop_unrenewed` whose keeper renewed after all (the keeper
        thread was starved or its answer slow, the lease had not expired): the keeper holds a
        valid lease for an account nobody runs, and would renew it forever. Give that epoch up
        and acquire the account again, so it restarts (here or on another node) under a new
        epoch through the normal restore-and-reconcile path."""
        with self._lock:
            late = [a for a in self._dropped
                    if a not in self._held and (k := self._keepers.get(a)) is not None
                    and k.may_act()]
        for account in late:
            self._log.warning("{}: lease epoch {} renewed late after the account stopped; "
                              "releasing it to take the account again under a new epoch",
                              account, self._epoch_of(account))
            self._renew_keeper(account, release=True)

    def _apply(self, change: LeaseChanged) -> None:
        account, lease = change.account, change.lease
        if change.reason == "acquired" and lease is not None:
            self._take(account, lease)
        elif change.reason in ("lost", "unreachable"):
            self._log.error("{}: lease lost ({}) at epoch {}; stopping the account without "
                            "closing positions", account, change.reason,
                            self._epoch_of(account))
            self._lapsed(account, "was lost (expired or taken over)" if change.reason == "lost"
                         else "could not be renewed (the lease database did not answer)")
            self._stop_account(account, f"lease {change.reason}")
            self._renew_keeper(account, release=change.reason == "unreachable")
        elif change.reason == "released":
            # the node releases only accounts it stopped; anything else (a keeper stopped
            # under it) still must not leave the account running without a lease
            self._stop_account(account, "lease released")
            with self._lock:
                keeper = self._keepers.get(account)
            if keeper is not None and keeper.stopped and not self._stop.is_set():
                self._new_keeper(account)

    def _take(self, account: str, lease: Lease) -> None:
        with self._lock:
            keeper = self._keepers[account]
        if account in self.held():
            return
        kind = ("first start" if lease.previous_owner is None else
                "hand-over" if lease.handed_over else "takeover")
        self._log.info("{}: {} at epoch {} (previous owner {}); restoring and reconciling",
                       account, kind, lease.epoch, lease.previous_owner or "none")
        try:
            handle = self._watching(lambda: self._start_account(account, lease, keeper))
        except StartCancelled as exc:  # the process stops: nothing started, hand it back now
            self._log.info("{}: {}; releasing lease epoch {}", account, exc, lease.epoch)
            self._renew_keeper(account, release=True)
            return
        except Exception as exc:  # noqa: BLE001 - give the account back, try again later
            delay = self._backoff.failed(account)
            self._log.opt(exception=exc).error(
                "{}: could not start at epoch {}: {}; this node tries it again in {:g}s at the "
                "earliest", account, lease.epoch, exc, delay)
            if isinstance(exc, StartAbandoned):
                with self._lock:
                    self._unsafe.add(account)
            self._renew_keeper(account, release=True)
            return
        self._backoff.started(account)
        with self._lock:
            self._held[account] = Held(lease=lease, handle=handle, started_at=time.time())
        if self._stop.is_set():  # the node's stop began meanwhile and may have passed it by
            self._stop_account(account, "node stopping")
            return
        threading.Thread(target=journal_when_ready, name=f"ready-{account}", daemon=True,
                         args=(account, lease, handle, kind),
                         kwargs={"node_id": self.node_id, "held": self.held,
                                 "announce": self._announce, "registry": self._registry,
                                 "log": self._log}).start()

    def _watching(self, start: Callable[[], AccountHandle]) -> AccountHandle:
        """An account's start on its own thread, while this one stops accounts whose lease
        lapses (found by review: a start can take as long as its database deadlines, and the
        lapsed accounts ran on meanwhile, every send and commit refused, actors failing)."""
        done: list[Any] = []
        (thread := threading.Thread(target=lambda: done.append(outcome(start)),
                                    name="cluster-start", daemon=True)).start()
        while thread.is_alive():
            thread.join(_WATCHDOG_S)
            try:
                self._drop_unrenewed()
            except Exception as exc:  # noqa: BLE001 - as in _run: the start goes on
                self._log.opt(exception=exc).error("cluster node step failed: {}", exc)
        if isinstance(done[0], BaseException):
            raise done[0]
        return done[0]

    def _lapsed(self, account: str, what: str) -> None:
        """Alert that the account stops here because its lease ended under it (found by review:
        only ERROR lines told it, so a database outage that stopped every account of every node
        reached no alert hook: nothing traded, trailing stops stood still, nobody was told)."""
        if account not in self.held():
            return  # stopped already (one alert per lapse), or never started here
        try:
            self._alert(account, "cluster_lease_lost",
                        f"{account}: lease epoch {self._epoch_of(account)} {what}; stopped on node "
                        f"{self.node_id} without closing positions (their stops stay on the "
                        "exchange); it trades again once a node holds its lease")
        except Exception as exc:  # noqa: BLE001 - the account must stop whatever the alert does
            self._log.error("{}: lease alert failed: {}", account, describe(exc))

    def _stop_account(self, account: str, why: str) -> None:
        """Stop the account if it runs here. Never raises (the caller's lease bookkeeping must
        follow); an unclean stop marks the account unsafe (see `_unsafe`)."""
        with self._lock:
            held = self._held.pop(account, None)
        if held is None:
            return
        trouble: list[str] = []
        try:
            if stuck := held.handle.stop():
                trouble.append(f"not stopped in time: {', '.join(stuck)}")
        except Exception as exc:  # noqa: BLE001 - reported below in one line
            trouble.append(f"stop raised {type(exc).__name__}: {exc}")
        try:
            held.handle.close()
        except Exception as exc:  # noqa: BLE001 - as above
            trouble.append(f"close raised {type(exc).__name__}: {exc}")
        if trouble:
            self._log.error("{}: did not stop cleanly ({}); its lease is left to expire",
                            account, "; ".join(trouble))
            with self._lock:
                self._unsafe.add(account)
        self._log.info("{}: stopped on this node ({}); positions stay protected on the exchange",
                       account, why)

    def _may_release(self, account: str) -> bool:
        """False when the account's last stop was unclean: its lease must expire instead."""
        with self._lock:
            unsafe = account in self._unsafe
        if unsafe:
            self._log.warning("{}: not releasing lease epoch {}: the account did not stop "
                              "cleanly; it expires and is taken over after the grace",
                              account, self._epoch_of(account))
        return not unsafe

    def _renew_keeper(self, account: str, *, release: bool) -> None:
        """A keeper whose lease ended is replaced by a fresh one (acquiring gives a new epoch)."""
        release = release and self._may_release(account)
        with self._lock:
            old = self._keepers.get(account)
            self._dropped.discard(account)
            self._unsafe.discard(account)  # the old keeper's lease is released or left to expire
        if old is not None:
            old.stop(release=release)
        with self._lock:
            self._acquired.discard(account)
        if not self._stop.is_set():
            self._new_keeper(account)

    def _epoch_of(self, account: str) -> int:
        with self._lock:
            keeper = self._keepers.get(account)
        last = keeper.last_lease() if keeper is not None else None
        return last.epoch if last is not None else 0

    # ---- balancing -------------------------------------------------------------------------

    def _beat(self) -> list[NodeSeen]:
        self._registry.heartbeat(self.node_id, os.getpid(), sorted(self.held()),
                                 ready=not self._backoff.any_waiting())
        now, rows = self._registry.nodes()
        self._lists.check(now, rows, self._settings.ttl_ms)
        return [NodeSeen(node=r["node"], age_ms=now - r["seen_ms"], ready=r.get("ready", True),
                         holds=len(r["accounts"])) for r in rows]

    def _beat_loop(self) -> None:
        """Heartbeats on their own thread: a database call that hangs must not hold up the
        node thread (it stops accounts whose lease lapsed). Every balance interval, but at
        least every TTL/3: a row is live for the TTL after its beat (balancing, `bot.py
        cluster`, the node id claim), so a slower beat let a live node look dead."""
        while not self._stop.wait(min(self._balance_every, self._settings.renew_every_s)):
            try:
                seen = self._beat()
            except LeaseStoreUnavailable as exc:
                self._outage.failed(exc)  # said once an outage, reminded every 5 minutes
                continue
            except Exception as exc:  # noqa: BLE001 - the thread must live: said, tried again
                # (found by review: anything else ended the thread without a word, the node's
                # row went stale and the other nodes counted a live node out)
                self._outage.unforeseen(exc)
                continue
            self._outage.answered()
            with self._lock:
                self._seen = (time.monotonic(), seen)

    def _balance(self) -> None:
        with self._lock:
            snapshot = self._seen
        if snapshot is None or time.monotonic() - snapshot[0] > self._settings.ttl_s:
            return  # no fresh view of the cluster: keep the current share
        held, ttl_ms = sorted(self.held()), self._settings.ttl_ms
        live = live_nodes(snapshot[1], self.node_id, ttl_ms)
        cap = target(len(self.accounts), snapshot[1], self.node_id, len(held), ttl_ms)
        with self._lock:
            self._cap = cap
        for account in to_hand_over(held, cap):
            self._log.info("{}: handing over to balance {} accounts across {} live nodes "
                           "({} on this one)", account, len(self.accounts), live, cap)
            self._stop_account(account, "handed over for balance")
            self._renew_keeper(account, release=True)

