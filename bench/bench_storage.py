"""5. Storage: durable commits with many writer threads.

Ours: 500 threads (one per symbol, like the actors) each committing decisions through
`Repository.commit` (synchronous=FULL, group-commit writer; each caller blocks until its unit is
durable). Each unit is what a trailing-stop move writes: actor state, position, trailing stop, the
live stop order and one journal line.

Baseline, same run: raw sqlite3, one connection per thread, same pragmas (WAL, synchronous=FULL,
busy_timeout=10000), each commit its own transaction (BEGIN IMMEDIATE; UPDATE state; INSERT
journal; COMMIT). "database is locked" errors are counted in both.

With --pg-url, the same Repository runs on PostgreSQL too (storage.url; one throwaway schema
per run); the server's fsync / synchronous_commit settings are printed with the numbers.

    python bench/bench_storage.py [--runs 5] [--threads 500] [--commits 3] [--pg-url URL]
"""

from __future__ import annotations

import argparse
import sqlite3
import threading
import time
import uuid
from decimal import Decimal

from common import (  # noqa: I001 - common puts the repository on sys.path
    TempDir, fmt, header, pct, summary, symbols, table, write_json,
)
from storage.repository import Repository, is_database_locked_error
from trading.commands import JournalEntry
from trading.decision import Decision
from trading.model import OrderPurpose, OrderRecord, OrderStatus, Phase, Position, Side, SymbolState, TrailingState, TrailingStop

D = Decimal


def states(symbol: str, k: int) -> tuple[SymbolState, Decision]:
    pos = Position(position_id=f"{symbol}-p", side=Side.LONG, contracts=D("0.01"), entry_price=D("100"),
                   opened_at=1.0)
    stop = OrderRecord(client_order_id=f"{symbol[:8]}-{k}s", purpose=OrderPurpose.STOP, side="sell",
                       amount=D("0.01"), price=D("99"), reduce_only=True, status=OrderStatus.OPEN,
                       exchange_id=str(k), position_id=pos.position_id)
    before = SymbolState(symbol=symbol, phase=Phase.OPEN, position=pos, stop_price=D("99"), orders=(stop,),
                         trailing=TrailingStop(state=TrailingState.ACTIVE, activation_price=D("100.5"),
                                               callback_pct=D("0.3"), best_price=D(100 + k),
                                               trigger_price=D(100 + k) * D("0.997")))
    after = SymbolState(symbol=symbol, phase=Phase.OPEN, position=pos, stop_price=D("99"), orders=(stop,),
                        trailing=TrailingStop(state=TrailingState.ACTIVE, activation_price=D("100.5"),
                                              callback_pct=D("0.3"), best_price=D(101 + k),
                                              trigger_price=D(101 + k) * D("0.997")))
    return before, Decision(state=after, journal=(JournalEntry(type="TrailingMoved", data={"best": str(101 + k)}),))


def run_ours(path, syms: list[str], commits: int, pg_url: str = "") -> dict:
    """`pg_url`: the same through PostgreSQL (a throwaway schema, dropped after the run)."""
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    repo = Repository(url=pg_url, schema=schema) if pg_url else Repository(path, synchronous="full")
    try:
        incs = {s: repo.claim(s) for s in syms}
        lat: list[float] = []
        locked = 0
        other = 0
        lock = threading.Lock()
        barrier = threading.Barrier(len(syms) + 1)
        units0, commits0 = repo.writer.units, repo.writer.commits

        def worker(s: str) -> None:
            nonlocal locked, other
            mine = []
            prepared = [states(s, k) for k in range(commits)]
            barrier.wait()
            for before, decision in prepared:
                t = time.perf_counter()
                try:
                    repo.commit(s, incs[s], before, decision, correlation_id=uuid.uuid4().hex[:16], created_at=time.time())
                    mine.append(time.perf_counter() - t)
                except Exception as exc:  # noqa: BLE001
                    with lock:
                        if is_database_locked_error(exc) or "locked" in str(exc):
                            locked += 1
                        else:
                            other += 1
            with lock:
                lat.extend(mine)

        threads = [threading.Thread(target=worker, args=(s,), daemon=True) for s in syms]
        for t in threads:
            t.start()
        barrier.wait()
        t0 = time.perf_counter()
        for t in threads:
            t.join()
        wall = time.perf_counter() - t0
        txs = repo.writer.commits - commits0
        return {"rate": len(lat) / wall, "lat": lat, "locked": locked, "other_errors": other, "wall": wall,
                "transactions": txs, "units": repo.writer.units - units0}
    finally:
        repo.close()
        if pg_url:
            drop_schema(pg_url, schema)


def run_solo(path, n: int, pg_url: str = "") -> list[float]:
    """One thread committing one decision after another (a calm market: every batch is one
    unit); the latency of each commit in seconds."""
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    repo = Repository(url=pg_url, schema=schema) if pg_url else Repository(path, synchronous="full")
    try:
        sym = "SOLO/USDT:USDT"
        inc = repo.claim(sym)
        lat = []
        for k in range(n):
            before, decision = states(sym, k)
            t = time.perf_counter()
            repo.commit(sym, inc, before, decision, correlation_id="solo", created_at=time.time())
            lat.append(time.perf_counter() - t)
        return lat
    finally:
        repo.close()
        if pg_url:
            drop_schema(pg_url, schema)


def drop_schema(url: str, schema: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as con:
        con.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def pg_durability(url: str) -> str:
    import psycopg

    with psycopg.connect(url, autocommit=True) as con:
        fsync = con.execute("SHOW fsync").fetchone()[0]
        sync = con.execute("SHOW synchronous_commit").fetchone()[0]
    return f"fsync={fsync}, synchronous_commit={sync}"


def run_raw(path, syms: list[str], commits: int) -> dict:
    con = sqlite3.connect(str(path), isolation_level=None)
    con.execute("pragma journal_mode=wal")
    con.execute("create table if not exists state (symbol text primary key, best text, updated_at real)")
    con.execute("create table if not exists journal (id integer primary key, symbol text, type text, data text, "
                "created_at real)")
    con.executemany("insert or ignore into state values (?, '0', 0)", [(s,) for s in syms])
    con.close()
    lat: list[float] = []
    locked = 0
    other = 0
    lock = threading.Lock()
    barrier = threading.Barrier(len(syms) + 1)

    def worker(s: str) -> None:
        nonlocal locked, other
        c = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False, timeout=10.0)
        c.execute("pragma journal_mode=wal")
        c.execute("pragma synchronous=FULL")
        c.execute("pragma busy_timeout=10000")
        c.execute("pragma foreign_keys=1")
        mine = []
        barrier.wait()
        for k in range(commits):
            t = time.perf_counter()
            try:
                c.execute("BEGIN IMMEDIATE")
                c.execute("update state set best=?, updated_at=? where symbol=?", (str(101 + k), time.time(), s))
                c.execute("insert into journal (symbol, type, data, created_at) values (?, ?, ?, ?)",
                          (s, "TrailingMoved", '{"best": "%d"}' % (101 + k), time.time()))
                c.execute("COMMIT")
                mine.append(time.perf_counter() - t)
            except sqlite3.OperationalError as exc:
                with lock:
                    if "locked" in str(exc) or "busy" in str(exc):
                        locked += 1
                    else:
                        other += 1
                try:
                    c.execute("ROLLBACK")
                except sqlite3.Error:
                    pass
        c.close()
        with lock:
            lat.extend(mine)

    threads = [threading.Thread(target=worker, args=(s,), daemon=True) for s in syms]
    for t in threads:
        t.start()
    barrier.wait()
    t0 = time.perf_counter()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    return {"rate": len(lat) / wall, "lat": lat, "locked": locked, "other_errors": other, "wall": wall,
            "transactions": len(lat), "units": len(lat)}


def main() -> dict:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--threads", type=int, default=500)
    ap.add_argument("--commits", type=int, default=3, help="commits per thread per run")
    ap.add_argument("--solo", type=int, default=300, help="sequential commits from one thread")
    ap.add_argument("--pg-url", default="", help="also run ours on this PostgreSQL server "
                    "(storage.url; a throwaway schema per run)")
    args = ap.parse_args()
    header("bench_storage", f"{args.threads} writer threads x {args.commits} commits, synchronous=FULL")
    syms = symbols(args.threads)
    tmp = TempDir("storage")
    res: dict = {"ours": [], "raw": [], "pg": []}
    try:
        for r in range(args.runs):  # interleaved so machine noise hits both alike
            res["ours"].append(run_ours(tmp.path / f"ours{r}.sqlite", syms, args.commits))
            res["raw"].append(run_raw(tmp.path / f"raw{r}.sqlite", syms, args.commits))
            if args.pg_url:
                res["pg"].append(run_ours(None, syms, args.commits, args.pg_url))
                print(f"  run {r + 1}: ours on PostgreSQL {res['pg'][-1]['rate']:,.0f}/s", flush=True)
            print(f"  run {r + 1}: ours {res['ours'][-1]['rate']:,.0f}/s ({res['ours'][-1]['transactions']} tx)"
                  f"  raw {res['raw'][-1]['rate']:,.0f}/s", flush=True)
        solo = {"sqlite": run_solo(tmp.path / "solo.sqlite", args.solo)}
        if args.pg_url:
            solo["postgresql"] = run_solo(None, args.solo, args.pg_url)
    finally:
        tmp.cleanup()
    rows = []
    out: dict = {"config": vars(args)}
    labels = [("ours", "Repository (group commit)"), ("raw", "raw sqlite3, conn per thread")]
    if args.pg_url:
        labels.append(("pg", "Repository on PostgreSQL"))
        print(f"  PostgreSQL server: {pg_durability(args.pg_url)}")
    for name, label in labels:
        runs = res[name]
        rates = [r["rate"] for r in runs]
        lat = [x for r in runs for x in r["lat"]]
        s = summary(lat)
        rows.append([label, len(runs), fmt(pct(rates, 50), "/s"), fmt(min(rates), "/s"), fmt(s["median"], "ms"),
                     fmt(s["p99"], "ms"), fmt(s["max"], "ms"), sum(r["locked"] for r in runs),
                     sum(r["other_errors"] for r in runs),
                     f"{pct([r['units'] / max(r['transactions'], 1) for r in runs], 50):.0f}"])
        out[name] = {"rates": rates, "latency": s, "locked": sum(r["locked"] for r in runs),
                     "other_errors": sum(r["other_errors"] for r in runs),
                     "units_per_tx": [r["units"] / max(r["transactions"], 1) for r in runs]}
    ratio = pct(out["ours"]["rates"], 50) / pct(out["raw"]["rates"], 50)
    rows.append(["ratio ours/raw (medians)", "-", fmt(ratio, "x"), "-", "-", "-", "-", "-", "-", "-"])
    print(table("Durable commits, 500 writer threads (synchronous=FULL)",
                ["config", "runs", "commits/s", "worst run", "lat median", "lat p99", "lat max", "locked", "other err",
                 "units/tx"], rows))
    print(f"  target 0 'database is locked' for ours: {'MET' if out['ours']['locked'] == 0 else 'MISSED'} "
          f"(ours {out['ours']['locked']}, raw {out['raw']['locked']})")
    out["ratio"] = ratio
    if args.pg_url:
        out["ratio_pg_sqlite"] = pct(out["pg"]["rates"], 50) / pct(out["ours"]["rates"], 50)
        print(f"  PostgreSQL / SQLite (Repository, medians): {out['ratio_pg_sqlite']:.2f}x")
    solo_rows = []
    for engine, lat in solo.items():
        s = summary(lat)
        out[f"solo_{engine}"] = s
        solo_rows.append([engine, s["n"], fmt(s["median"], "ms"), fmt(s["p99"], "ms"),
                          fmt(s["max"], "ms")])
    print(table("One thread, one commit after another (synchronous=FULL)",
                ["engine", "commits", "lat median", "lat p99", "lat max"], solo_rows))
    write_json("storage", out)
    return out


if __name__ == "__main__":
    main()
