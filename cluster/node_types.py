"""What a cluster node drives and reports through (cluster/node.py): the running account's
handle, the node registry, the account starter and what a takeover announces."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from cluster.keeper import LeaseKeeper
from cluster.lease import Lease


class AccountHandle(Protocol):
    """A running account as the node drives it (runtime/node_accounts.py NodeAccount)."""

    def ready(self) -> bool:
        """True once every symbol of the account is restored, reconciled and running."""
        ...

    def stop(self) -> list[str]: ...

    def close(self) -> None: ...


class Registry(Protocol):
    """What the node needs from `storage.cluster_registry.ClusterRegistry`."""

    def heartbeat(self, node: str, pid: int, accounts: list[str], ready: bool = True) -> None:
        ...

    def leave(self, node: str) -> None: ...

    def nodes(self) -> tuple[int, list[dict[str, Any]]]: ...

    def record_takeover(self, lease: Lease, kind: str) -> None: ...


StartAccount = Callable[[str, Lease, LeaseKeeper], AccountHandle]
"""Open, restore, reconcile and start one account under `lease` (raises if it cannot; raises
`StartAbandoned` if, failing, it could not stop what it had started)."""


class StartAbandoned(Exception):
    """A start that failed after the account's actors began, and some did not stop: they may
    still have a request in flight, so the lease is left to expire rather than released."""


class StartCancelled(Exception):  # noqa: N818 - not an error: the process is stopping
    """The start ended after the exchange call in flight because this process was told to stop
    (a SIGTERM during the start, runtime/shutdown.py StartFence): no actor started, so the
    lease is released at once, with no backoff and no traceback. Found by review: the node's
    start ran unfenced, retried its markets read after the signal and was logged as a failure."""


def outcome(call: Callable[[], Any]) -> Any:
    """What `call` returned, or the exception it raised (handed to another thread)."""
    try:
        return call()
    except BaseException as exc:  # noqa: BLE001 - raised again by the thread that waits
        return exc

Announce = Callable[[str, str, dict[str, Any]], bool]
"""(account, message, data): a takeover for the account's journal and alerts; True once the
journal has it committed, False if the account no longer runs here to journal it."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Held:
    """An account this node runs right now."""

    lease: Lease
    """The lease it runs under (its epoch is in every client order id)."""
    handle: AccountHandle
    """The running account."""
    started_at: float
    """Wall clock when the account started on this node."""
