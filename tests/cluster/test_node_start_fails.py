"""A node whose first heartbeat fails (the leases database refuses it) raises that one error
from start(); the runner's stop() that follows must not hide it. stop() joined the node's
threads, which had not started: 'RuntimeError: cannot join thread before it is started'
replaced the one-line database error with a traceback. A refusing port on 127.0.0.1 stands
for the database (no server needed)."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest
from loguru import logger

from cluster import LeaseStore, LeaseStoreUnavailable, open_database
from cluster.node import ClusterNode
from storage.cluster_registry import ClusterRegistry
from tests.cluster.leases_support import FAST


@pytest.fixture
def refused_url() -> Iterator[str]:
    """A port bound for the whole test but not listening: connecting is refused, and no other
    test process can start a server on it meanwhile (a port picked and closed could be)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield f"postgresql://bot@127.0.0.1:{sock.getsockname()[1]}/bot"


def test_a_node_whose_first_heartbeat_fails_stops_without_hiding_the_error(
        refused_url: str) -> None:
    store = LeaseStore(open_database(refused_url, network_timeout_s=1.0), FAST)
    registry = ClusterRegistry(open_database(refused_url, network_timeout_s=1.0))

    def start(*_: Any) -> Any:
        raise AssertionError("no account starts without a heartbeat")

    node = ClusterNode(node_id="node-x", accounts=["a0"], store=store, registry=registry,
                       settings=FAST, start_account=start, logger=logger,
                       announce=lambda *_: True)
    with pytest.raises(LeaseStoreUnavailable):
        node.start()
    node.stop()  # the runner's finally: returns, raising nothing of its own
    assert node.held() == {}
