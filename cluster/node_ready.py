"""Journaling a node's acquisition of an account once the account runs.

Run on its own thread per start (`ClusterNode._take`): it waits until every symbol is restored
and reconciled, then journals a takeover in the account's journal and the acquisition in the
cluster table; its ready time is what a takeover costs. Split out of cluster/node.py.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from cluster.lease import Lease, LeaseStoreUnavailable
from cluster.node_types import AccountHandle, Announce, Held, Registry
from observability.error_text import describe

_READY_TIMEOUT_S = 120.0
_READY_POLL_S = 0.02
"""How often a newly started account is asked whether it runs (a cheap read of its
supervisor's child states)."""


def journal_when_ready(account: str, lease: Lease, handle: AccountHandle, kind: str, *,
                       node_id: str, held: Callable[[], dict[str, Held]], announce: Announce,
                       registry: Registry, log: Any,
                       ready_timeout_s: float = _READY_TIMEOUT_S) -> None:
    """Journal the acquisition once the account runs (every symbol restored and
    reconciled): its ready time is what a takeover costs. `held`: the node's accounts now
    (an account stopped again, or started anew, before it ran is not journaled). A takeover
    whose account is not running after `ready_timeout_s` (a symbol restarting again and again)
    is journaled and alerted then, without a ready time for the cluster table."""
    deadline = time.monotonic() + ready_timeout_s
    running = True
    while not handle.ready():
        now_held = held().get(account)
        if now_held is None or now_held.handle is not handle:
            return  # stopped again before it ran (lease lost, node stopping)
        if time.monotonic() > deadline:
            log.warning("{}: not running {:g}s after epoch {} began{}", account,
                        ready_timeout_s, lease.epoch, "; its takeover is announced now (not "
                        "in the cluster table: no ready time)" if kind == "takeover" else "")
            running = False
            break
        time.sleep(_READY_POLL_S)
    # the account's own journal first, then the cluster table: a node killed between the
    # two leaves a journaled takeover the table lacks, never a recorded one unjournaled.
    # An account stopped again before it could journal (its lease lost right after it ran)
    # is recorded in neither.
    try:
        journaled = kind != "takeover" or announce(
            account, f"account {account} taken over by node {node_id} at epoch "
            f"{lease.epoch} from {lease.previous_owner}",
            {"epoch": lease.epoch, "previous_owner": lease.previous_owner})
    except Exception as exc:  # noqa: BLE001 - a failed commit (connection, timeout): one line
        log.error("{}: takeover at epoch {} not journaled: {}: {}; not recorded in the cluster "
                  "table either", account, lease.epoch, type(exc).__name__, exc)
        return
    if not journaled:
        log.warning("{}: takeover at epoch {} not journaled: the account stopped "
                    "here before it could be", account, lease.epoch)
        return
    if not running:
        return
    try:
        registry.record_takeover(lease, kind)
    except LeaseStoreUnavailable as exc:
        log.warning("{}: takeover not journaled in the cluster table: {}", account, describe(exc))
    log.info("{}: running at epoch {} ({})", account, lease.epoch, kind)
