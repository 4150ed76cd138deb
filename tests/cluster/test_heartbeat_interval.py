"""A node's heartbeat must keep its registry row live whatever `cluster.balance_interval_s`
says: the row is live for the lease TTL after each beat, and the node used to beat only once per
balance interval. With a balance interval longer than the TTL (both keys are free to set) a
live node looked dead to the others most of the time: balancing counted it out and a twin with
the same `cluster.node_id` was let start beside it. Real PostgreSQL, a real ClusterNode."""

from __future__ import annotations

from typing import Any

import pytest
from loguru import logger

from cluster import LeaseStore, open_database
from cluster.node import ClusterNode
from cluster.node_id_claim import NodeIdInUse, claim, live_holder
from storage.cluster_registry import ClusterRegistry
from tests.cluster.leases_support import FAST, lease_tables, start_idle
from tests.support.waiting import wait_until


def _announce(account: str, message: str, data: dict[str, Any]) -> bool:
    return True


def test_a_node_balancing_slower_than_its_ttl_still_beats_within_it(pg_url: str) -> None:
    store, registry = lease_tables(pg_url)
    node = ClusterNode(node_id="slow-balancer", accounts=["hb0"], store=store,
                       registry=registry, settings=FAST, start_account=start_idle, logger=logger,
                       announce=_announce, balance_interval_s=4 * FAST.ttl_s).start()
    try:
        observer = ClusterRegistry(open_database(pg_url))
        wait_until(lambda: live_holder(observer, "slow-balancer", FAST.ttl_ms) is not None,
                   timeout=10, message="the node's first beat")
        # a twin claiming the id polls the row for TTL + 1 s: the node must stay live throughout
        with pytest.raises(NodeIdInUse):
            claim(observer, "slow-balancer", FAST.ttl_ms)
    finally:
        node.stop()


class _FailsOnce:
    """The real registry, whose second heartbeat raises an error no one foresaw (a driver bug,
    a decoding error): not the LeaseStoreUnavailable the beat loop expected."""

    def __init__(self, inner: ClusterRegistry) -> None:
        self.inner = inner
        self.beats = 0

    def heartbeat(self, *args: Any, **kwargs: Any) -> None:
        self.beats += 1
        if self.beats == 2:
            raise RuntimeError("unforeseen")
        self.inner.heartbeat(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def test_an_unforeseen_heartbeat_error_is_said_and_the_beats_go_on(pg_url: str) -> None:
    """Found by review: the beat loop caught only LeaseStoreUnavailable, so any other error
    ended its thread without a word; the node's registry row then went stale and the others
    counted a live node out (balancing, the node id claim)."""
    lines: list[str] = []
    sink = logger.add(lambda m: lines.append(str(m)), level="WARNING")
    store = LeaseStore(open_database(pg_url, network_timeout_s=1.0), FAST)
    store.create_table()
    inner = ClusterRegistry(open_database(pg_url))
    inner.create_tables()
    registry = _FailsOnce(inner)
    node = ClusterNode(node_id="beats-on", accounts=["hb1"], store=store,
                       registry=registry, settings=FAST,  # type: ignore[arg-type]
                       start_account=start_idle, logger=logger, announce=_announce).start()
    try:
        wait_until(lambda: registry.beats >= 4, timeout=30, message="beats after the error")
        assert node._beater.is_alive()
    finally:
        node.stop()
        logger.remove(sink)
    said = [line for line in lines if "heartbeat failed" in line]
    assert said and "unforeseen" in said[0] and "RuntimeError" in said[0]
