"""Soak: the whole bot (`python bot.py run`, paper mode) at 100 symbols for a few minutes.

Samples, over time: the bot's RSS, the sizes of both SQLite files and their WALs, the journal
lag (an event's recorded_at - created_at: how long a decision waited for its commit) and the
latency of a probe commit made on the bot's database beside it (BEGIN IMMEDIATE, one row,
COMMIT with synchronous=FULL: what any writer waits for under the bot's load). Prints one row
per sample and a summary; issue 16 item 18 (WAL growth) and the RSS check (flat ~118 MB).

    python bench/bench_soak.py                 # 3 minutes, 100 symbols
    python bench/bench_soak.py --minutes 60 --symbols 100 --every 30
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import fmt, header, pct, table, write_json  # noqa: E402
from storage.database import read_only_uri  # noqa: E402


def write_config(path: Path, n: int, dashboard: bool = True) -> None:
    symbols = ", ".join(f'"B{i:04d}/USDT:USDT"' for i in range(n))
    path.write_text(f"""
[bot]
status_interval_s = 1.0
[symbols]
list = [{symbols}]
[strategy]
window = 10
entry_z = 1.0
exit_z = 0.2
min_volatility_pct = 0
[risk]
max_open_positions = {n}
cooldown_after_loss_s = 5
[paper]
latency_ms = 5
[logging]
console = false
[dashboard]
enabled = {str(dashboard).lower()}
port = 0
""")


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def size_mb(path: Path) -> float:
    return path.stat().st_size / 2**20 if path.exists() else 0.0


def probe_commit(db: Path) -> float:
    """Seconds for one durable write transaction on the bot's database."""
    con = sqlite3.connect(str(db), timeout=30, isolation_level=None)
    try:
        con.execute("PRAGMA synchronous=FULL")
        con.execute("CREATE TABLE IF NOT EXISTS bench_probe (t REAL)")
        started = time.perf_counter()
        con.execute("BEGIN IMMEDIATE")
        con.execute("INSERT INTO bench_probe (t) VALUES (?)", (time.time(),))
        con.execute("COMMIT")
        return time.perf_counter() - started
    finally:
        con.close()


def journal_lag(db: Path, since: float) -> tuple[list[float], float]:
    """recorded_at - created_at of the events committed after ``since``; the newest recorded_at."""
    con = sqlite3.connect(read_only_uri(db), uri=True, timeout=30)
    try:
        rows = con.execute("SELECT recorded_at - created_at, recorded_at FROM events "
                           "WHERE recorded_at > ?", (since,)).fetchall()
    finally:
        con.close()
    return [max(r[0], 0.0) for r in rows], max((r[1] for r in rows), default=since)


def sample(pid: int, data: Path, since: float, started: float) -> tuple[dict, float]:
    lags, newest = journal_lag(data / "bot.sqlite", since)
    probes = [probe_commit(data / "bot.sqlite") for _ in range(5)]
    row = {"t_s": time.monotonic() - started, "rss_mb": rss_mb(pid),
           "bot_db_mb": size_mb(data / "bot.sqlite"),
           "bot_wal_mb": size_mb(data / "bot.sqlite-wal"),
           "paper_db_mb": size_mb(data / "paper_exchange.sqlite"),
           "paper_wal_mb": size_mb(data / "paper_exchange.sqlite-wal"),
           "events": len(lags), "lag_p50_s": pct(lags, 50), "lag_p99_s": pct(lags, 99),
           "probe_p50_s": pct(probes, 50), "probe_max_s": max(probes)}
    return row, newest


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--minutes", type=float, default=3.0)
    ap.add_argument("--symbols", type=int, default=100)
    ap.add_argument("--every", type=float, default=15.0, help="seconds between samples")
    ap.add_argument("--no-dashboard", action="store_true", help="run without the dashboard")
    args = ap.parse_args()
    header("soak", f"{args.symbols} symbols, {args.minutes:g} min")
    tmp = Path(tempfile.mkdtemp(prefix="bench-soak-"))
    config, data = tmp / "config.toml", tmp / "data"
    write_config(config, args.symbols, dashboard=not args.no_dashboard)
    proc = subprocess.Popen([sys.executable, str(ROOT / "bot.py"), "run", "--config", str(config),
                             "--data-dir", str(data)], cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    rows: list[dict] = []
    started, since = time.monotonic(), time.time()
    try:
        while not (data / "bot.sqlite").exists() and proc.poll() is None:
            time.sleep(0.2)
        deadline = started + args.minutes * 60
        while time.monotonic() < deadline and proc.poll() is None:
            time.sleep(min(args.every, max(deadline - time.monotonic(), 0.0)))
            row, since = sample(proc.pid, data, since, started)
            rows.append(row)
            print(json.dumps({k: round(v, 4) for k, v in row.items()}), flush=True)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=120)
    if proc.returncode != 0:
        print(f"bot exited {proc.returncode}: {err[-2000:]}", file=sys.stderr)
    print(table("soak samples", ["t", "RSS", "bot db", "bot wal", "paper db", "paper wal",
                                 "events", "lag p50", "lag p99", "probe p50", "probe max"],
                [[f"{r['t_s']:.0f} s", fmt(r["rss_mb"], "MB"), fmt(r["bot_db_mb"], "MB"),
                  fmt(r["bot_wal_mb"], "MB"), fmt(r["paper_db_mb"], "MB"),
                  fmt(r["paper_wal_mb"], "MB"),
                  r["events"], fmt(r["lag_p50_s"], "ms"), fmt(r["lag_p99_s"], "ms"),
                  fmt(r["probe_p50_s"], "ms"), fmt(r["probe_max_s"], "ms")] for r in rows]))
    if rows:
        summary = {"rss_first_mb": rows[0]["rss_mb"], "rss_last_mb": rows[-1]["rss_mb"],
                   "rss_max_mb": max(r["rss_mb"] for r in rows),
                   "bot_wal_max_mb": max(r["bot_wal_mb"] for r in rows),
                   "paper_wal_max_mb": max(r["paper_wal_mb"] for r in rows),
                   "bot_db_last_mb": rows[-1]["bot_db_mb"],
                   "paper_db_last_mb": rows[-1]["paper_db_mb"]}
        print("summary:", json.dumps({k: round(v, 2) for k, v in summary.items()}))
        write_json("soak", {"minutes": args.minutes, "symbols": args.symbols, "samples": rows,
                            "summary": summary, "exit_code": proc.returncode})
    import shutil

    shutil.rmtree(tmp, ignore_errors=True)
    return 0 if proc.returncode == 0 else 1


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
