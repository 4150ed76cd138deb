"""Lease records, settings and errors (no database, no threads)."""

from __future__ import annotations

import os
import secrets
import socket
from dataclasses import dataclass


@dataclass(frozen=True, slots=True, kw_only=True)
class Lease:
    """One node's right to act on one account, as the database granted it."""

    account: str
    """The account this lease is for (the unit of ownership)."""
    owner: str
    """Node id of the holder (unique per process incarnation)."""
    epoch: int
    """Grows by one on every acquisition of this account; never reused, never reset."""
    expires_at_ms: int
    """Database clock (ms since the epoch) after which the lease is no longer valid."""
    renewed_at_ms: int
    """Database clock of the last acquisition or renewal."""
    previous_owner: str | None = None
    """On an acquisition: the node that held the account before (None: first holder)."""
    handed_over: bool = False
    """On an acquisition: True when the previous holder released it, False when it expired."""


@dataclass(frozen=True, slots=True, kw_only=True)
class LeaseSettings:
    """Timing of the lease protocol, the same on every node of a cluster (the takeover grace
    need not be: each lease row records its holder's, and a taker waits the longer one)."""

    ttl_s: float = 6.0
    """How long a lease lasts after its last renewal (database clock)."""
    request_timeout_s: float = 3.0
    """The longest exchange request timeout: after expiry another node waits this long more
    before taking over, so a request the old owner sent just before it stopped has either
    reached the exchange or failed by then."""
    safety_margin_s: float = 1.0
    """A holder stops acting this long before its lease could expire (covers clock-rate
    drift between the node and the database and the time to finish the current step)."""

    def __post_init__(self) -> None:
        if not self.ttl_s > 0:
            raise ValueError(f"cluster lease ttl_s: must be > 0 (got {self.ttl_s})")
        if self.request_timeout_s < 0:
            raise ValueError(
                f"cluster lease request_timeout_s: must be >= 0 (got {self.request_timeout_s})")
        if not 0 < self.safety_margin_s <= self.ttl_s / 3 + 1e-9:
            raise ValueError(
                "cluster lease safety_margin_s: must be > 0 and <= 1/3 of ttl_s "
                f"(got {self.safety_margin_s} with ttl_s {self.ttl_s}), else one late renewal "
                "already stops the holder")

    @property
    def renew_every_s(self) -> float:
        """Renew a third of the TTL after the previous renewal was sent. The holder may act
        until ttl_s - safety_margin_s after that send, which is at least two renewal periods:
        the renewal due after one period can fail, be retried or answer late for a whole
        period, and the holder stops no earlier than when the second one is due."""
        return self.ttl_s / 3

    @property
    def ttl_ms(self) -> int:
        return int(self.ttl_s * 1000)

    @property
    def takeover_grace_ms(self) -> int:
        return int(self.request_timeout_s * 1000)


class LeaseLost(Exception):
    """The caller's lease on the account is gone (expired, taken over or released): it must not
    commit or send anything for that account."""

    final = True
    """Not held again by this run of the account (a node's account started under a lost epoch
    stays refused): its actors stop handling, uncounted (actors/symbol_actor.py)."""

    def __init__(self, account: str, epoch: int, owner: str) -> None:
        super().__init__(
            f"lease lost: node {owner} no longer holds account {account} at epoch {epoch}")
        self.account = account
        self.epoch = epoch
        self.owner = owner


class LeaseStoreUnavailable(Exception):
    """The lease database could not be reached; the outcome of the call is unknown."""


def new_node_id() -> str:
    """A node id unique to this process incarnation (host, pid, random): a restarted process is
    a new owner, so it must wait out or be handed its old lease like any other node."""
    host = socket.gethostname().split(".")[0][:60] or "node"
    return f"{host}-{os.getpid()}-{secrets.token_hex(4)}"
