"""A cluster node's account whose lease another node took over: the node stops the account, and
meanwhile each actor's commit is refused by the commit fence (cluster/commit_fence.py,
`LeaseLost`). The actor logged `crashed: LeaseLost: ...` with a traceback and the supervisor
counted a failure and queued a restart under a lease the node no longer holds (an account
started under a lost epoch stays refused: cluster/keeper.py EpochKeeper). One WARNING line
says so, the actor handles nothing more, nothing is counted or restarted.
A real LeaseKeeper on real PostgreSQL leases, a second keeper taking the account over, real
pykka actors and the real supervisor (BOT_TEST_PG_URL)."""

from __future__ import annotations

import logging
from decimal import Decimal
from pathlib import Path

from actors.messages import ExternalSignal, Ping
from cluster import LeaseKeeper
from cluster.commit_fence import CommitFence
from cluster.keeper import EpochKeeper
from storage.repository import Repository
from tests.cluster.leases_support import FAST, make_store
from tests.support.harness import Harness
from tests.support.waiting import wait_until
from trading.model import Side

BTC = "BTC/USDT:USDT"


def test_an_actor_whose_lease_was_taken_over_says_one_line_and_is_not_restarted(
        tmp_path, pg_url, lines, caplog) -> None:
    keeper = LeaseKeeper(store=make_store(pg_url), account="main", node_id="node-a",
                         settings=FAST).start()
    other = LeaseKeeper(store=make_store(pg_url), account="main", node_id="node-b",
                        settings=FAST)
    wait_until(keeper.may_act, timeout=30, message="node-a holds the lease")
    lease = keeper.acting_lease()
    assert lease is not None
    fence = CommitFence(EpochKeeper(keeper, lease), in_database=False)

    def fenced(path: Path, synchronous: str) -> Repository:
        return Repository(path, synchronous=synchronous, commit_guard=fence)

    h = Harness(tmp_path, [BTC], repository=fenced).start()  # type: ignore[arg-type]
    try:
        child = h.child(BTC)
        keeper.stop(release=True)  # node-a hands the lease over; node-b takes the account
        other.start()
        wait_until(other.may_act, timeout=30, message="node-b holds the lease")
        caplog.set_level(logging.ERROR, logger="pykka")
        child.ref.tell(ExternalSignal(side=Side.LONG, signal_id="s1", size_usdt=Decimal("100")))
        wait_until(lambda: any("LeaseLost" in line for line in lines), timeout=10,
                   message="the actor's commit was refused")
        said = [line for line in lines if "LeaseLost" in line]
        assert len(said) == 1 and "WARNING" in said[0] and "not a crash" in said[0], said
        assert child.ref.ask(Ping(), timeout=10) is h.views[BTC]  # alive, answering its beats
        assert not [line for line in lines if "crashed" in line or "Traceback" in line
                    or "actor failed" in line or "restarting" in line], lines
        assert not [r for r in caplog.records if r.name == "pykka"], caplog.records
        assert child.last_failure is None and child.restart_at is None
        assert child.state.value == "running" and child.restarts == 0
    finally:
        h.sup.stop(timeout_s=10)
        h.closer.wait()
        h.repo.close(writer_timeout_s=5)
        h.paper.close()
        other.stop(release=True)
        keeper.stop(release=True)
