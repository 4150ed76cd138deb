"""LeaseKeeper threads against a real PostgreSQL server: contention, crash takeover, graceful
hand-over, and a partition (a TCP proxy the test cuts) in which the cut-off node stops acting
before its lease can expire and the survivor takes over only after it expired."""

from __future__ import annotations

import time

import pytest

from cluster import Lease, LeaseKeeper, LeaseLost, LeaseStore, LeaseStoreUnavailable
from tests.cluster.leases_support import (
    FAST,
    ProbeClock,
    Recorder,
    make_keeper,
    make_store,
    monotonic_at_db_ms,
    running,
    wait_acting,
    watch_first_flip,
)
from tests.support.postgres import host_port, with_host_port
from tests.support.tcp_proxy import TcpProxy
from tests.support.waiting import wait_until


class SeenHolders:
    """A keeper's store that notes the holders its takeover looks saw."""

    def __init__(self, store: LeaseStore) -> None:
        self.store, self.seen = store, set[str]()

    def acquire(self, account: str, owner: str) -> Lease | None:
        return self.store.acquire(account, owner)

    def renew(self, lease: Lease) -> Lease | None:
        return self.store.renew(lease)

    def release(self, lease: Lease) -> bool:
        return self.store.release(lease)

    def takeover_view(self, account: str) -> tuple[float, tuple[str, int, int] | None]:
        due, holder = self.store.takeover_view(account)
        if holder is not None:
            self.seen.add(holder[0])
        return due, holder


def _acting(keeper: LeaseKeeper) -> Lease:
    lease = keeper.acting_lease()
    assert lease is not None
    return lease


def test_two_keepers_contending_never_both_act_and_crash_takeover_bumps_epoch(
    pg_url: str,
) -> None:
    a = make_keeper(make_store(pg_url), "node-a")
    b = make_keeper(make_store(pg_url), "node-b")
    observer = make_store(pg_url)
    with running(a, b):
        found = wait_until(lambda: a if a.may_act() else b if b.may_act() else None,
                           timeout=30, message="one keeper acquires")
        assert found is not None
        assert _acting(found).epoch == 1
        # across 6 renewals never both may act at any sample. Counted in renewals, not in
        # seconds: a stalled renewal on a loaded machine may leave a moment where neither
        # acts (the holder's own deadline ran out), which is safe; both at once never is.
        renewals: set[tuple[str, int, int]] = set()
        samples = 0
        deadline = time.monotonic() + 60  # only bounds a hang
        while len(renewals) < 7:
            assert time.monotonic() < deadline, f"only {len(renewals)} renewals seen"
            leases = [k.acting_lease() for k in (a, b)]
            assert [x is not None for x in leases].count(True) <= 1
            renewals.update((x.owner, x.epoch, x.renewed_at_ms) for x in leases if x)
            samples += 1
            time.sleep(0.005)
        assert samples >= len(renewals)
        holder = wait_until(lambda: a if a.may_act() else b if b.may_act() else None,
                            timeout=10, message="a keeper acts after the renewals")
        other = b if holder is a else a
        first = _acting(holder)
        holder.stop(release=False)  # the holder's node dies: nothing renews, nothing releases
        crashed_row = observer.current("alpha")
        assert crashed_row is not None and crashed_row.owner == holder.node_id
        taken = wait_acting(other, "survivor takes over")
        assert taken.epoch == first.epoch + 1 and taken.owner == other.node_id
        assert taken.renewed_at_ms > crashed_row.expires_at_ms + FAST.takeover_grace_ms


def test_graceful_stop_hands_the_account_over_without_waiting_for_expiry(pg_url: str) -> None:
    a = make_keeper(make_store(pg_url), "node-a")
    # node-b's monotonic clock stands still: had it waited for the lease to expire (its own
    # clock must see ttl + grace pass for that) it would never take the account. (A bound on
    # the database time it took, before a's lease would expire, had < 1 s of slack.)
    frozen = time.monotonic()
    b_store = SeenHolders(make_store(pg_url))
    b = LeaseKeeper(store=b_store, account="alpha", node_id="node-b", settings=FAST,
                    monotonic=lambda: frozen)
    a.start()
    wait_until(a.may_act, timeout=30, message="node-a acquires")
    with running(b):
        wait_until(lambda: "node-a" in b_store.seen, timeout=10,
                   message="node-b sees node-a holding the account")
        first = _acting(a)
        a.stop(release=True)
        assert not a.may_act()
        taken = wait_acting(b, "node-b acquires after release", timeout=10)
        assert taken.epoch == first.epoch + 1
        assert taken.handed_over and taken.previous_owner == "node-a"  # released, not expired


@pytest.mark.slow
@pytest.mark.parametrize("partition", ["cut", "blackhole"])
def test_partitioned_keeper_stops_before_expiry_and_survivor_takes_over_after(
    pg_url: str, partition: str,
) -> None:
    """cut: the database connection is reset (errors at once); blackhole: every call hangs
    (no error ever comes). Either way the node stops acting by its own clock, in time."""
    observer = make_store(pg_url)
    host, port = host_port(pg_url)
    with TcpProxy(host, port) as proxy:
        store_a = make_store(with_host_port(pg_url, "127.0.0.1", proxy.port))
        rec_a, clock_a = Recorder(), ProbeClock()
        a = make_keeper(store_a, "node-a", recorder=rec_a, monotonic=clock_a)
        b = make_keeper(make_store(pg_url), "node-b")
        with running(a):
            held = wait_acting(a, "node-a acquires", timeout=30)
            with running(b):
                watcher, flips = watch_first_flip(a, observer)
                proxy.cut() if partition == "cut" else proxy.blackhole()
                watcher.join(10)
                assert flips, "node-a never stopped acting after the partition"
                flip = flips[0]
                assert flip.row is not None and flip.row.owner == "node-a"
                assert flip.row.epoch == held.epoch
                # stopped acting before the lease could expire (database clock), by at least
                # half its safety margin: asked as of a moment no later than that, not as of
                # when the watcher woke up. Its deadline stays put until the partition heals.
                expiry_at_latest = monotonic_at_db_ms(observer, flip.row.expires_at_ms)
                with clock_a.at(expiry_at_latest - FAST.safety_margin_s / 2):
                    assert not a.may_act(), "node-a would act within its safety margin"
                taken = wait_acting(b, "survivor takes over")
                assert taken.epoch == held.epoch + 1
                assert taken.renewed_at_ms > flip.row.expires_at_ms + FAST.takeover_grace_ms
                assert not a.may_act()
                if partition == "cut":
                    assert "unreachable" in rec_a.reasons()
                else:
                    proxy.cut()  # end the hang the way a TCP timeout eventually would
                proxy.heal()
                # the cut-off node comes back: its renewal is refused and it cannot commit
                wait_until(lambda: "lost" in rec_a.reasons(), timeout=10,
                           message="node-a learns it lost the lease")
                assert not a.may_act()
                assert _zombie_commit_outcomes(store_a, flip.row)[-1] is LeaseLost
                assert b.may_act() and _acting(b).epoch == taken.epoch

def _zombie_commit_outcomes(store: LeaseStore, lease: Lease) -> list[type[BaseException]]:
    """Try to commit under a lost lease until the database answers: the first try may find
    the connection the partition killed (LeaseStoreUnavailable); no try may reach its body."""
    outcomes: list[type[BaseException]] = []
    for _ in range(3):
        try:
            with store.fenced(lease):
                pytest.fail("a fenced transaction body ran for a lost lease")
        except (LeaseLost, LeaseStoreUnavailable) as exc:
            outcomes.append(type(exc))
            if isinstance(exc, LeaseLost):
                break
    return outcomes
