"""Cluster foundations: account leases with a monotonic epoch (fencing) on PostgreSQL or SQLite.

One node owns an account through a lease; the epoch grows on every acquisition and is checked
in the same transaction as every commit, so a node that lost its lease cannot commit.
"""

from cluster.fenced_port import FencedExchange
from cluster.keeper import LeaseKeeper
from cluster.lease import (
    Lease,
    LeaseLost,
    LeaseSettings,
    LeaseStoreUnavailable,
    new_node_id,
)
from storage.cluster_database import open_database
from storage.leases import LeaseStore

__all__ = [
    "FencedExchange",
    "Lease",
    "LeaseKeeper",
    "LeaseLost",
    "LeaseSettings",
    "LeaseStore",
    "LeaseStoreUnavailable",
    "new_node_id",
    "open_database",
]
