"""Two processes started with the same configured `cluster.node_id`: the second one must not
share the first one's registry row (one node counted where two run, balancing shares meant for
one). It waits out a crashed predecessor's last beat and refuses a live twin with one line
naming the key. Real PostgreSQL; the twin is a real thread beating through its own registry."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from cluster.lease import LeaseStoreUnavailable
from cluster.node_id_claim import EXTRA_WAIT_S, POLL_S, claim, live_holder
from runtime.cluster_node import _claim
from runtime.wiring import StartupError
from storage.cluster_database import open_database
from storage.cluster_registry import ClusterRegistry
from tests.support.waiting import wait_until

TTL_MS = 2000  # a live twin beats every 50 ms: a loaded CI machine must not stall it this long


def registry(url: str) -> ClusterRegistry:
    r = ClusterRegistry(open_database(url), version="v1")
    r.create_tables()
    return r


def test_a_live_twin_is_refused_with_the_key_named(pg_url: str) -> None:
    twin = registry(pg_url)
    stop = threading.Event()

    def beat() -> None:
        while not stop.is_set():
            try:
                twin.heartbeat("clash-live", 4242, ["alpha"])
            except LeaseStoreUnavailable:
                pass  # (the claimant's table set-up can collide with a beat: beat again)
            stop.wait(0.05)

    beater = threading.Thread(target=beat, daemon=True)
    beater.start()
    claimant = registry(pg_url)
    wait_until(lambda: live_holder(claimant, "clash-live", TTL_MS) is not None, timeout=30,
               message="the twin beating")
    try:
        started = time.monotonic()
        with pytest.raises(StartupError) as err:
            _claim(claimant, "clash-live", TTL_MS)
        waited = time.monotonic() - started
    finally:
        stop.set()
        beater.join(5)
    message = str(err.value)
    assert message.startswith("cluster.node_id: 'clash-live' is in use by a live node (pid 4242")
    assert "\n" not in message
    assert waited >= TTL_MS / 1000 + EXTRA_WAIT_S - 0.05  # it gave a predecessor its chance


def test_a_crashed_predecessor_is_waited_out(pg_url: str) -> None:
    claimant = registry(pg_url)  # connected and its tables made before the clock starts
    registry(pg_url).heartbeat("clash-dead", 77, ["alpha"])  # its last beat, then it died
    ages: list[int] = []  # the row's age (database clock) at each of the claim's looks
    pauses: list[float] = []

    class Watched:
        def nodes(self) -> tuple[int, list[dict[str, Any]]]:
            now_ms, rows = claimant.nodes()
            ages.extend(now_ms - int(r["seen_ms"]) for r in rows if r["node"] == "clash-dead")
            return now_ms, rows

    def pause(seconds: float) -> None:
        pauses.append(seconds)
        threading.Event().wait(seconds)

    claim(Watched(), "clash-dead", TTL_MS, pause=pause)
    # it waited while the row was live and returned at the first look that found it stale
    # (not at its deadline): told by what it saw, not by the time it took on a loaded machine
    assert len(ages) >= 2 and all(age <= TTL_MS for age in ages[:-1]) and ages[-1] > TTL_MS
    assert pauses == [POLL_S] * (len(ages) - 1)


def test_an_unused_id_starts_at_once(pg_url: str) -> None:
    other = registry(pg_url)
    other.heartbeat("someone-else", 1, ["beta"])
    claimant = registry(pg_url)
    pauses: list[float] = []
    claim(claimant, "clash-free", TTL_MS, pause=pauses.append)
    assert pauses == []  # it returned at its first look, without a single wait
