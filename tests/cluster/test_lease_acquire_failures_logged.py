"""A keeper that cannot acquire its account says why, once per change of reason: another node
holds it, or the lease database does not answer. Not once per attempt (a waiting keeper looks
several times a second). Real keeper threads on a real SQLite lease store."""

from __future__ import annotations

import threading
from pathlib import Path

from loguru import logger

from cluster import Lease, LeaseKeeper
from cluster.lease import LeaseStoreUnavailable
from storage.leases import LeaseStore
from tests.cluster.leases_support import FAST, make_store
from tests.support.waiting import wait_until


class SwitchableStore:
    """Delegates to a real store; while `down` is set every call fails as a dead database."""

    def __init__(self, inner: LeaseStore) -> None:
        self.inner = inner
        self.down = threading.Event()
        self.calls = 0

    def _check(self) -> None:
        self.calls += 1
        if self.down.is_set():
            raise LeaseStoreUnavailable("lease database: connection refused")

    def acquire(self, account: str, owner: str) -> Lease | None:
        self._check()
        return self.inner.acquire(account, owner)

    def renew(self, lease: Lease) -> Lease | None:
        self._check()
        return self.inner.renew(lease)

    def release(self, lease: Lease) -> bool:
        self._check()
        return self.inner.release(lease)

    def takeover_view(self, account: str) -> tuple[float, tuple[str, int, int] | None]:
        self._check()
        return self.inner.takeover_view(account)


def test_a_failed_acquire_is_one_line_per_reason_not_per_attempt(tmp_path: Path) -> None:
    lines: list[str] = []
    sink = logger.add(lambda m: lines.append(m.record["message"]), level="INFO",
                      filter=lambda r: "node-b" in r["message"])
    path = str(tmp_path / "leases.sqlite")
    holder = LeaseKeeper(store=make_store(path), account="alpha", node_id="node-a",
                         settings=FAST).start()
    store = SwitchableStore(make_store(path))
    waiting = LeaseKeeper(store=store, account="alpha", node_id="node-b", settings=FAST)
    try:
        wait_until(holder.may_act, timeout=30, message="node-a holds alpha")
        waiting.start()
        seen = store.calls
        wait_until(lambda: store.calls >= seen + 6, timeout=10, message="several looks")
        held = [m for m in lines if "lease not acquired" in m]
        assert held == ["alpha: lease not acquired by node-b: held by node node-a at epoch 1; "
                        "taken only once that lease expires or is released"], lines

        store.down.set()
        seen = store.calls
        wait_until(lambda: store.calls >= seen + 6, timeout=10, message="several failed looks")
        down = [m for m in lines if "unreachable" in m]
        assert down == ["alpha: lease not acquired by node-b: lease database unreachable "
                        "(lease database: connection refused)"], lines

        store.down.clear()
        holder.stop(release=True)  # released: node-b takes it at once
        wait_until(waiting.may_act, timeout=10, message="node-b acquired alpha")
        # the keeper logs the acquisition just after it starts to act: wait for the line
        acquired = "alpha: lease acquired by node-b at epoch 2"
        wait_until(lambda: acquired in lines, timeout=10, message="the acquired line")
        assert lines[-1] == acquired, lines
        assert len([m for m in lines if "lease not acquired" in m]) == 2, lines
    finally:
        waiting.stop()
        holder.stop()
        logger.remove(sink)
