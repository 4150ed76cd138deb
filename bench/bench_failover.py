"""Cluster failover: takeover time after kill -9, with the DEFAULT lease settings.

3 cluster nodes (`python bot.py run`), 6 accounts, the shared paper server, a real PostgreSQL
server named by BOT_TEST_PG_URL (accounts' storage there too, storage.url). A random node that
holds accounts is killed with SIGKILL at a random moment, N times; per account it held, the
takeover time is kill -> the account restored, reconciled and running on a survivor (the
takeover journal's ready time, database clock; same machine). After each kill the run checks
what tests/cluster/test_failover_kill.py checks (no client id twice on the exchange, every
position keeps its stop, ledger == exchange fills, no epoch sending after the next began).

The default timings: lease_ttl_s 3, exchange_timeout_ms 2500 (the takeover waits expiry + the
longest exchange request): 4.5-5.5 s after the kill (the last renewal came up to ttl/3 before
it: expiry 2-3 s after the kill, + 2.5 s), then the account's restore and reconcile. A node that
starts after the kill waits ttl + grace (5.5 s) from its own first look at the lease row.

    BOT_TEST_PG_URL=postgresql://... python bench/bench_failover.py [--kills 40] [--seed 13]
        [--keep DIR]

--keep DIR runs in DIR (created, never deleted) instead of a temporary directory, so the nodes'
logs and outputs (DIR/n0/logs, DIR/n0.out, ...) and the paper server's store stay for a look
after the run (without it every log of an anomalous run was gone when the run ended).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from contextlib import nullcontext
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from config.sections import ClusterSettings  # noqa: E402 - after the path insert
from tests.cluster.failover_run import FailoverRun, Timings, distribution  # noqa: E402
from tests.support.postgres import fresh_database  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--kills", type=int, default=40)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--keep", type=Path, default=None, metavar="DIR",
                        help="run in DIR and keep it (the nodes' logs), not a temporary dir")
    args = parser.parse_args()
    url = os.environ.get("BOT_TEST_PG_URL", "")
    if not url:
        print("bench_failover: BOT_TEST_PG_URL is not set (a PostgreSQL server is needed)")
        return 2
    d = ClusterSettings()
    timings = Timings(ttl_s=d.lease_ttl_s, margin_s=d.lease_safety_margin_s,
                      timeout_ms=d.exchange_timeout_ms)
    print(f"default lease settings: ttl {timings.ttl_s}s, safety margin {timings.margin_s}s, "
          f"exchange timeout {timings.timeout_ms} ms; {args.kills} kills, seed {args.seed}")
    if args.keep is not None:
        args.keep.mkdir(parents=True, exist_ok=True)
    where = (nullcontext(str(args.keep)) if args.keep is not None
             else tempfile.TemporaryDirectory(prefix="bench_failover_"))
    with where as tmp, fresh_database(url) as db_url:
        run = FailoverRun(root=Path(tmp), pg_url=db_url, timings=timings, seed=args.seed,
                          storage_on_postgres=True)
        try:
            run.start()
            for k in range(1, args.kills + 1):
                run.takeovers_s.extend(run.kill_one(k))
            run.final_checks()
        finally:
            codes = run.stop()
    print(f"graceful stop exit codes: {codes}")
    print("takeover time (kill -> running on a survivor):", distribution(run.takeovers_s))
    return 0


if __name__ == "__main__":
    sys.exit(main())
