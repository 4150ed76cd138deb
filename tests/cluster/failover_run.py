"""The kill -9 failover run shared by tests/cluster/test_failover_kill.py (short, fast lease
timings) and bench/bench_failover.py (long, default timings): N nodes, M accounts, the shared
paper server, a real PostgreSQL; kill a random node holding accounts at a random moment, wait
for every one of its accounts to run and trade again on a survivor, check the books, restart
the node, repeat."""

from __future__ import annotations

import random
import signal
import statistics
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from cluster import LeaseSettings
from tests.cluster import exchange_audit as audit
from tests.cluster.node_support import (
    SYMBOLS,
    ClusterWatch,
    Node,
    PaperServer,
    account_names,
    write_config,
)
from tests.support.waiting import wait_until
from trading.order_evidence import SEND_GRACE_S


@dataclass
class Timings:
    ttl_s: float
    margin_s: float
    timeout_ms: int

    @property
    def lease(self) -> LeaseSettings:
        return LeaseSettings(ttl_s=self.ttl_s, request_timeout_s=self.timeout_ms / 1000,
                             safety_margin_s=self.margin_s)


@dataclass
class FailoverRun:
    root: Path
    pg_url: str
    timings: Timings
    nodes: int = 3
    accounts: int = 6
    seed: int = 13
    storage_on_postgres: bool = True
    """The accounts' databases on the PostgreSQL server (storage.url), else SQLite files in
    the cluster's shared dir."""
    say: Callable[[str], None] = print
    takeovers_s: list[float] = field(default_factory=list)
    server: PaperServer | None = None
    running: list[Node] = field(default_factory=list)
    pending: dict[str, int] = field(default_factory=dict)
    """Accounts taken over whose trading again is still to be seen: account -> old epoch."""

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        self.names = account_names(self.accounts)
        self.books = (audit.Books(pg_url=self.pg_url) if self.storage_on_postgres
                      else audit.Books(shared=self.root / "shared"))

    # ---- setup / teardown ------------------------------------------------------------------

    def start(self) -> None:
        self.server = PaperServer(store=self.root / "paper.sqlite",
                                  symbols=SYMBOLS[: self.accounts]).start()
        t = self.timings
        self.config = write_config(self.root, server=self.server, pg_url=self.pg_url,
                                   accounts=self.accounts, ttl_s=t.ttl_s, margin_s=t.margin_s,
                                   timeout_ms=t.timeout_ms,
                                   storage_url=self.pg_url if self.storage_on_postgres else None)
        self.watch = ClusterWatch(self.pg_url, t.lease)
        self.running = [self._node(i) for i in range(self.nodes)]
        wait_until(self._all_owned, timeout=90, interval=0.1, message="every account owned")
        wait_until(lambda: all(self.books.ready(a) for a in self.names), timeout=60,
                   interval=0.1, message="the accounts' storage exists")

    def stop(self) -> list[int | None]:
        codes = [n.stop() for n in self.running]
        if self.server is not None:
            self.server.stop()
        return codes

    def _node(self, i: int) -> Node:
        return Node(name=f"n{i}", config=self.config, data_dir=self.root / f"n{i}").start()

    # ---- observation -----------------------------------------------------------------------

    @property
    def store(self) -> Path:
        assert self.server is not None
        return self.server.store

    def _owner_pid(self, owner: str) -> int:
        return int(owner.rsplit("-", 2)[1])

    def _all_owned(self) -> bool:
        pids = {n.pid for n in self.running if n.alive()}
        owners = self.watch.owners()
        return all(a in owners and self._owner_pid(owners[a][0]) in pids for a in self.names)

    def prefix(self, account: str) -> str:
        return self.books.prefix(account)

    # ---- one kill ----------------------------------------------------------------------------

    def kill_one(self, k: int) -> list[float]:
        """Kill a node that holds accounts; returns each of its accounts' takeover time."""
        wait_until(self._all_owned, timeout=60, interval=0.1, message="every account owned")
        # the previous kill's accounts trade again: a kill between an entry's commit and its
        # send leaves the intent in doubt for SEND_GRACE_S (60 s) before the symbol trades
        # on (a CI run timed out at 60 s on exactly that)
        self.check_traded_again(timeout=SEND_GRACE_S + 30)
        time.sleep(self.rng.uniform(0.0, 1.5))  # a random moment in the nodes' work
        owners = self.watch.owners()
        by_pid: dict[int, dict[str, int]] = {}
        for account, (owner, epoch) in owners.items():
            by_pid.setdefault(self._owner_pid(owner), {})[account] = epoch
        slot = self.rng.choice([i for i, n in enumerate(self.running) if n.pid in by_pid])
        victim = self.running[slot]
        lost = by_pid[victim.pid]
        kill_ms = int(time.time() * 1000)
        victim.signal(signal.SIGKILL)
        assert victim.proc is not None
        victim.proc.wait(10)
        took = self._taken_over(lost, kill_ms)
        checked = time.monotonic()
        self._check_books(lost, kill_ms)
        self.say(f"kill {k}: node pid {victim.pid} held {sorted(lost)}; taken over in "
                 + ", ".join(f"{s:.2f}s" for s in sorted(took))
                 + f"; books checked in {time.monotonic() - checked:.1f}s")
        self.running[slot] = self._node(slot)
        return took

    def _taken_over(self, lost: dict[str, int], kill_ms: int) -> list[float]:
        def done() -> dict[str, dict[str, object]] | None:
            latest = {}
            for t in self.watch.takeovers():
                acct = str(t["account"])
                if acct in lost and int(str(t["epoch"])) > lost[acct]:
                    latest[acct] = t
            return latest if len(latest) == len(lost) else None

        found = wait_until(done, timeout=60, interval=0.05, message="accounts taken over")
        assert found is not None
        return [(int(str(t["ready_ms"])) - kill_ms) / 1000 for t in found.values()]

    def _check_books(self, lost: dict[str, int], kill_ms: int) -> None:
        window = self.timings.ttl_s + self.timings.timeout_ms / 1000 + 5
        assert audit.duplicate_ids(self.store) == [], "a client order id reached the exchange twice"
        wait_until(lambda: not audit.unprotected(self.store, list(SYMBOLS)), timeout=window,
                   interval=0.2, message="every position has its stop on the exchange")
        for account in lost:
            self._books_agree(account, kill_ms)
        self.pending.update({a: max(e, self.pending.get(a, 0)) for a, e in lost.items()})
        self.check_fencing()

    def check_traded_again(self, timeout: float) -> None:
        """Every account taken over has sent an order under a newer epoch than the one it had
        when its node was killed (checked late, so trading has time to produce one)."""
        for account, epoch in sorted(self.pending.items()):
            prefix = self.prefix(account)

            def traded(p: str = prefix, e: int = epoch) -> bool:
                return max(audit.sends_by_epoch(self.store, p), default=0) > e

            try:
                wait_until(traded, timeout=timeout, interval=0.25,
                           message=f"{account} trades again after epoch {epoch}")
            except AssertionError as exc:
                raise AssertionError(f"{exc}\n{self._account_tails(account)}") from None
        self.pending.clear()

    def _account_tails(self, account: str, lines: int = 25) -> str:
        """What a person needs when an account does not trade again: the tail of each of its
        log files on every node that has them (the owner's are the ones still growing)."""
        out = [f"owners: {self.watch.owners()}"]
        for node in self.running:
            for log in sorted((node.data_dir / "logs" / account).glob("*.log")):
                tail = log.read_text(errors="replace").splitlines()[-lines:]
                out += [f"--- {log}", *tail]
        return "\n".join(out)

    def _books_agree(self, account: str, until_ms: int | None) -> None:
        def agree() -> bool:
            return not audit.ledger_gaps(self.store, self.books, account, until_ms=until_ms)

        wait_until(agree, timeout=30, interval=0.25, message=f"{account}: ledger == exchange fills")

    def check_fencing(self) -> None:
        """Every accepted order of epoch e reached the exchange before epoch e+1 was acquired
        (exchange clock vs database clock: one machine)."""
        acquired: dict[tuple[str, int], int] = {
            (str(t["account"]), int(str(t["epoch"]))): int(str(t["acquired_ms"]))
            for t in self.watch.takeovers()}
        for account in self.names:
            for epoch, stamps in audit.sends_by_epoch(self.store, self.prefix(account)).items():
                nxt = acquired.get((account, epoch + 1))
                if nxt is not None:
                    assert max(stamps) < nxt, (
                        f"{account}: epoch {epoch} sent at {max(stamps)} after epoch "
                        f"{epoch + 1} began at {nxt}")

    def final_checks(self) -> None:
        self.check_traded_again(timeout=SEND_GRACE_S + 30)
        assert audit.duplicate_ids(self.store) == []
        for account in self.names:
            self._books_agree(account, None)
        self.check_fencing()
        self.check_takeovers_journaled()

    def check_takeovers_journaled(self) -> None:
        """Every takeover in the cluster table is in the account's own journal
        (ClusterTakeover), once per epoch. The journal is written first, so a node killed
        between the two writes leaves a journaled epoch the table lacks (allowed), never the
        reverse (CI once caught the old order: 9 journaled, 10 in the table)."""
        taken: dict[str, set[int]] = {}
        for t in self.watch.takeovers():
            if t["kind"] == "takeover":
                taken.setdefault(str(t["account"]), set()).add(int(t["epoch"]))
        for account in self.names:
            rows = self.books.query(
                account, "SELECT correlation_id FROM events WHERE type = 'ClusterTakeover'")
            journaled = Counter(int(str(r[0]).removeprefix("takeover-")) for r in rows)
            twice = sorted(e for e, n in journaled.items() if n > 1)
            assert not twice, f"{account}: takeovers journaled twice at epochs {twice}"
            missing = sorted(taken.get(account, set()) - set(journaled))
            assert not missing, (f"{account}: takeovers at epochs {missing} are in the cluster "
                                 f"table but not in the account's journal")


def distribution(samples: list[float]) -> str:
    if not samples:
        return "no samples"
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, int(round(0.99 * (len(ordered) - 1))))]
    return (f"n={len(ordered)} min={ordered[0]:.2f}s median={statistics.median(ordered):.2f}s "
            f"p90={ordered[int(0.9 * (len(ordered) - 1))]:.2f}s p99={p99:.2f}s "
            f"max={ordered[-1]:.2f}s")
