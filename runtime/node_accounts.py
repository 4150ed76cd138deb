"""Starting and stopping one account on a cluster node, the way a single bot runs it.

`NodeAccounts` is the node's `start_account` (cluster/node.py): it starts the account's
AccountRuntime under the lease (the exchange port fenced, the client ids carrying the epoch,
commits fenced), after refusing an account a bot outside the cluster trades; `NodeAccount` is
the started account as the node drives it (ready, stop, close). Split out of
runtime/cluster_node.py, which builds the node.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

from loguru import logger

from cluster.commit_fence import CommitFence
from cluster.fenced_port import FencedExchange, lease_guard
from cluster.keeper import EpochKeeper, LeaseHolder
from cluster.lease import Lease
from cluster.node import StartAbandoned, StartCancelled
from config.secrets import secret_env_names
from config.settings import Settings
from exchange.fence import CallScope, call_scope
from runtime import shutdown
from runtime.account import AccountRuntime
from runtime.exchanges import build_exchange, feed_sharers
from runtime.round_gate import STEP_WAIT_S
from runtime.wiring import StartupError
from storage.cluster_database import is_postgres_url, same_postgres_database
from storage.opening import account_schema
from storage.pg_lock import SchemaInUse, SchemaLock
from supervision.child import ChildState
from trading.client_ids import check_epoch_fits


class NodeAccount:
    """An account runtime as the cluster node drives it."""

    def __init__(self, runtime: AccountRuntime, keeper: Any = None, *,
                 step_wait_s: float = STEP_WAIT_S) -> None:
        self.runtime = runtime
        self.keeper = keeper
        self._step_wait_s = step_wait_s

    def ready(self) -> bool:
        """Every symbol actor restored, reconciled and running (or quarantined: that symbol
        waits for a person, the others trade)."""
        sup = self.runtime.sup
        done = (ChildState.RUNNING, ChildState.QUARANTINED)
        return sup is not None and all(c.state in done for c in list(sup.children.values()))

    def stop(self) -> list[str]:
        """Stop the actors. When the lease lapsed (its database did not answer in time) or the
        status read found the database not answering, the account's database calls in flight
        are aborted first: each would otherwise hold this stop (on the node thread, which
        watches every lease) up to its deadline, and no commit of a lapsed lease could pass
        its fence anyway.

        First of all the run loop's steps stop coming (runtime/round_gate.py): one under way
        ends before the actors stop, a later one is skipped and leaves the account's queued
        controls to the node that takes it over."""
        repo, gate = self.runtime.repo, self.runtime.round
        lapsed = self.keeper is not None and not self.keeper.may_act()
        aborting = repo is not None and (lapsed or repo.unreachable is not None)
        gate.leave(aborting=aborting)  # a step its abort cuts short is skipped, not an error
        if repo is not None and aborting:
            repo.abort()  # before the wait: the step's database calls in flight end at once
        step_done = gate.wait_steps(self._step_wait_s)
        if not step_done:
            logger.warning("{}: the run loop's status or controls step still runs after {:g}s; "
                           "stopping the account anyway", self.runtime.name, self._step_wait_s)
        stuck = self.runtime.stop()
        # a step still under way may yet reach the exchange under this epoch (a signal to an
        # actor, an emergency close): an unclean stop, so the node lets the lease expire
        # instead of releasing it (found by review: only the actors counted, the lease was
        # handed over at once with the step still running)
        return stuck if step_done else [*stuck, "the run loop's step"]

    def close(self) -> None:
        self.runtime.close()


class NodeAccounts:
    """Starts one account under a lease, the way a single bot starts it."""

    def __init__(self, settings: Settings, accounts: list[Settings], data_dir: Path,
                 database_url: str) -> None:
        self._settings = settings
        self.fence_in_database = same_postgres_database(settings.storage.url, database_url)
        """The accounts' storage is the leases' database: every commit checks the lease row."""
        if is_postgres_url(settings.storage.url) and not self.fence_in_database:
            logger.warning("cluster: storage.url and cluster.database_url name different "
                           "databases: commits are fenced by the node's own deadline only")
        self._by_name = {a.bot.account: (i, a) for i, a in enumerate(accounts)}
        self._data_dir = data_dir
        self._sharers = feed_sharers(accounts)
        """Live accounts on one venue budget: a node may hold all of them in its process, so
        each account's REST fallback takes its part of polling's budget, as in a single bot
        (found by review: each took the whole, their fallbacks together twice it or more)."""

    def __call__(self, account: str, lease: Lease, keeper: LeaseHolder) -> NodeAccount:
        _, a = self._by_name[account]
        check_epoch_fits(account, list(a.symbol_list), lease.epoch)  # before anything opens
        if is_postgres_url(a.storage.url):
            refuse_outside_bot(a.storage.url, account)
        holder = EpochKeeper(keeper, lease)  # this lease's epoch only, never a later one
        runtime = self.runtime(account, lease, holder)
        try:
            start_runtime(runtime, shutdown.StartFence(account))
        except shutdown.StartStopped as exc:
            raise StartCancelled(str(exc)) from None
        return NodeAccount(runtime, holder)

    def runtime(self, account: str, lease: Lease, holder: LeaseHolder) -> AccountRuntime:
        """The account's runtime under `holder`'s lease, built, not opened."""
        i, a = self._by_name[account]
        s = self._settings
        return AccountRuntime(
            a, self._data_dir, logger=logger, tagged=s.has_accounts,
            config_key=f"accounts[{i}]." if s.has_accounts else "",
            build_exchange_=lambda st, d: FencedExchange(build_exchange(st, d), holder),
            epoch=lease.epoch,
            commit_guard=CommitFence(holder, in_database=self.fence_in_database),
            exchange_guard=lambda: lease_guard(holder),  # each retry, not only each call
            feed_sharers=self._sharers.get(account, 1),
            secret_env=secret_env_names(s))


def refuse_outside_bot(url: str, account: str) -> None:
    """Raise StartupError when a bot outside the cluster (cluster.enabled = false, same
    storage.url) holds the account's schema lock: it trades the account, so this node must not
    (a lease alone never sees such a bot; it checks the lease in turn, storage/pg_lock.py)."""
    lock = SchemaLock(url, account_schema(account), f"account {account}", grace_s=0)
    try:
        lock.acquire()
    except SchemaInUse as exc:
        raise StartupError(f"{exc}; not started on this cluster node") from None
    lock.release()


def start_runtime(runtime: Any, fence: shutdown.StartFence | None = None) -> None:
    """Open, build and start an AccountRuntime. If that fails, close it, after stopping what
    `start` had started; raise StartAbandoned when some of that did not stop (an actor may
    be mid-request: the node then lets the lease expire instead of releasing it).

    `fence`: the open's exchange calls (markets read, key check) run under the process's start
    fence, as a single bot's (runtime/runner.py): a stop request ends them after the call in
    flight (found by review: a node's start retried a markets read that never answered after
    SIGTERM, up to ~60 s, and the node's stop gave up waiting and left the lease to expire)."""
    started = False
    try:
        if fence is not None:
            fence.check()
        with call_scope(CallScope(fence=fence)):
            runtime.open()
        runtime.build()
        started = True
        runtime.start()
    except BaseException as exc:
        stuck = _stop_started(runtime) if started else []
        runtime.close()
        if stuck:
            raise StartAbandoned(f"start failed ({exc}) and did not stop cleanly: "
                                 f"{', '.join(stuck)}") from exc
        raise


def _stop_started(runtime: Any) -> list[str]:
    """Stop a runtime whose start failed part-way: what did not stop cleanly."""
    try:
        return list(runtime.stop())
    except Exception as exc:  # noqa: BLE001 - e.g. a part start() never reached (no thread)
        with contextlib.suppress(Exception):
            if runtime.sup is not None:
                runtime.sup.stop()  # the actors at least
        return [f"stop raised {type(exc).__name__}: {exc}"]
