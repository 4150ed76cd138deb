"""Two processes started AT ONCE with the same configured `cluster.node_id` (a copied config,
two machines booting together): both looked (cluster/node_id_claim.py `claim`) before either
had beaten, found no live row, and both went on; their first heartbeats then shared one
registry row, the cluster counted one node where two ran (balancing shares meant for one,
`bot.py cluster` showing one pid flipping between them), which `claim` exists to prevent.

Found by review (session 49): the claim is a read and the row is written only by the node's
first beat (ClusterNode.start), later, so the check and the write were not one step. Now the
first beat under a configured id takes the row only when no live node beats under it (the same
rule as `claim`: older than the TTL, or more than the TTL ahead) and raises NodeIdInUse (the
node's start fails in one line naming the key) when another process beat first.

Real PostgreSQL; each twin is a real ClusterRegistry with its own connections, as in two
processes."""

from __future__ import annotations

import pytest

from cluster.node_id_claim import NodeIdInUse, claim
from storage.cluster_database import open_database
from storage.cluster_registry import ClusterRegistry

TTL_MS = 2000


def twin(url: str) -> ClusterRegistry:
    r = ClusterRegistry(open_database(url), version="v1", claim_ttl_ms=TTL_MS)
    r.create_tables()
    return r


def test_the_second_of_two_twins_started_at_once_is_refused_at_its_first_beat(
        pg_url: str) -> None:
    first, second = twin(pg_url), twin(pg_url)
    claim(first, "twin", TTL_MS)  # both look before either beats: both find the id free
    claim(second, "twin", TTL_MS)
    first.heartbeat("twin", 1111, ["alpha"])
    with pytest.raises(NodeIdInUse) as err:
        second.heartbeat("twin", 2222, ["beta"])
    message = str(err.value)
    assert message.startswith("cluster.node_id: 'twin' is in use by a live node")
    assert "\n" not in message
    _, rows = first.nodes()
    assert [(r["node"], r["pid"], r["accounts"]) for r in rows] == [("twin", 1111, ["alpha"])]
    first.heartbeat("twin", 1111, ["alpha", "gamma"])  # the first one beats on as before
    _, rows = first.nodes()
    assert [(r["pid"], r["accounts"]) for r in rows] == [(1111, ["alpha", "gamma"])]


def test_a_stale_or_ahead_row_under_the_id_is_taken_by_the_first_beat(pg_url: str) -> None:
    old = twin(pg_url)
    old.heartbeat("twin", 1, ["alpha"])
    old.db.execute_sql("UPDATE cluster_nodes SET seen_ms = seen_ms - %s", (TTL_MS + 1000,))
    successor = twin(pg_url)
    successor.heartbeat("twin", 2, ["alpha"])  # a crashed predecessor's row: taken
    successor.db.execute_sql("UPDATE cluster_nodes SET seen_ms = seen_ms + %s",
                             (10 * TTL_MS,))  # now far ahead of the database clock
    third = twin(pg_url)
    third.heartbeat("twin", 3, ["alpha"])  # not a live node (cluster/balance.py `fresh`)
    _, rows = third.nodes()
    assert [r["pid"] for r in rows] == [3]


def test_a_generated_id_beats_without_the_check(pg_url: str) -> None:
    free = ClusterRegistry(open_database(pg_url), version="v1")
    free.create_tables()
    free.heartbeat("gen-1", 1, [])
    free.heartbeat("gen-1", 1, ["alpha"])  # later beats of the same process
    _, rows = free.nodes()
    assert [r["accounts"] for r in rows] == [["alpha"]]
