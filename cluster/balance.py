"""How many accounts a node should hold, from the live nodes the database knows (pure).

The accounts are split as evenly as the live nodes allow: each holds floor(accounts / live)
or one more, the extra ones going to the nodes holding the most already (then by node id), so
4 accounts on 3 nodes sit 2, 1, 1 and a node that comes back takes the fewest hand-overs to
reach its share. Above its share a node hands one account back (releases its lease after
stopping it) per balancing step; below it, it tries to acquire; at its share it takes no
released lease, so the one it gave up goes to the node below its share instead of straight
back. A returning or new node therefore gets its share only through the lease protocol.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True, kw_only=True)
class NodeSeen:
    """A node's heartbeat row as the balancer reads it."""

    node: str
    """The node id."""
    age_ms: int
    """Database clock now minus the node's last heartbeat."""
    ready: bool = True
    """False while the node's account starts are failing (it gives back what it acquires):
    it is not counted, so the others keep the accounts it cannot run."""
    holds: int = 0
    """How many accounts the node held at its last heartbeat."""


def fresh(age_ms: int, ttl_ms: int) -> bool:
    """Whether a heartbeat row `age_ms` old (database clock) counts as a live node: within the
    TTL, and no more than the TTL in the future. A row further ahead (a bad row, or the
    database's clock set back since it was written) would count as fresh until the clock
    caught up with it: found by review, a dead node's row an hour ahead counted as live for
    that hour, halving the live nodes' share (accounts held by no node) and refusing a restart
    under its configured node id."""
    return not ahead(age_ms, ttl_ms) and age_ms <= ttl_ms


def ahead(age_ms: int, ttl_ms: int) -> bool:
    """A row `age_ms` old (negative: written in the future) more than the TTL ahead of the
    database clock: not `fresh`, shown AHEAD (cluster/view.py)."""
    return age_ms < -ttl_ms


def counted(nodes: Sequence[NodeSeen], me: str, stale_after_ms: int,
            mine: int = 0) -> dict[str, int]:
    """The nodes balancing counts, each with the accounts it held at its last beat: the ready
    ones whose heartbeat is `fresh` within `stale_after_ms`, and this node always (holding
    `mine`)."""
    seen = {n.node: n.holds for n in nodes
            if n.node != me and fresh(n.age_ms, stale_after_ms) and n.ready}
    seen[me] = mine
    return seen


def live_nodes(nodes: Sequence[NodeSeen], me: str, stale_after_ms: int) -> int:
    """How many nodes balancing counts (`counted`), this node included."""
    return len(counted(nodes, me, stale_after_ms))


def target(accounts: int, nodes: Sequence[NodeSeen], me: str, mine: int,
           stale_after_ms: int) -> int:
    """This node's share of `accounts` among the live, ready nodes (itself always counted,
    holding `mine`): floor(accounts / live), plus one for the first accounts % live nodes by
    accounts held (most first), then node id."""
    seen = counted(nodes, me, stale_after_ms, mine)
    order = sorted(seen, key=lambda node: (-seen[node], node))
    base, extra = divmod(accounts, len(order))
    return base + (1 if order.index(me) < extra else 0)


def to_hand_over(held: Sequence[str], cap: int) -> list[str]:
    """Which held accounts to release to get down to `cap`: one per step (the last by name),
    so a node never drops several accounts at once on a transient view of the cluster."""
    if len(held) <= cap:
        return []
    return [sorted(held)[-1]]


class AccountListWatch:
    """`share` counts this node's accounts: it assumes every node is configured with the same
    ones. Nodes whose lists differ each cap themselves by their own count, so an account only
    some of them run can be held by none. Logged once per live node and list it beats with
    (registry rows' `configured`; None from a node of an earlier release: not compared)."""

    def __init__(self, me: str, accounts: Sequence[str], log: Any) -> None:
        self._me, self._mine, self._log = me, frozenset(accounts), log
        self._told: dict[str, frozenset[str]] = {}
        self._ahead: set[str] = set()

    def check(self, now_ms: int, rows: Sequence[dict[str, Any]], live_ms: int) -> None:
        self._say_ahead(now_ms, rows, live_ms)
        for row in rows:
            node, theirs = row["node"], row.get("configured")
            if node == self._me or theirs is None or not fresh(now_ms - row["seen_ms"], live_ms):
                continue
            listed = frozenset(theirs)
            if listed == self._mine:
                self._told.pop(node, None)  # agrees now: a later difference is news again
                continue
            if self._told.get(node) == listed:
                continue
            self._told[node] = listed
            self._log.warning(
                "cluster: node {} is configured with other accounts than this node {} (only "
                "there: {}; only here: {}): balancing assumes every node has the same accounts, "
                "so some may be held by no node; give every node the same config", node,
                self._me, ",".join(sorted(listed - self._mine)) or "-",
                ",".join(sorted(self._mine - listed)) or "-")

    def _say_ahead(self, now_ms: int, rows: Sequence[dict[str, Any]], live_ms: int) -> None:
        """One line per node whose row is too far in the future to be `fresh` (again once it
        is back in line)."""
        early = {r["node"]: r["seen_ms"] - now_ms for r in rows
                 if ahead(now_ms - r["seen_ms"], live_ms)}
        for node in sorted(early.keys() - self._ahead):
            self._log.warning(
                "cluster: node {}'s last heartbeat is {:.1f}s ahead of the database clock (a "
                "bad row, or the database's clock was set back): not counted as a live node",
                node, early[node] / 1000)
        self._ahead = set(early)
