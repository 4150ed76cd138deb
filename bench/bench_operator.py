"""8. The operator's view: what protections, the dashboard and /metrics cost.

- Protections: an account's guard on a ledger of N fills. The first tick replays the whole
  ledger (a restart); later ticks read only new fills (primary-key range), so their cost
  follows what is new, not the history.
- Dashboard: GET /api/status over real HTTP with a status of S actors (the page's live feed
  sends the same document), and one /metrics scrape rendered from it.

    python bench/bench_operator.py [--runs 200] [--fills 100000] [--symbols 500]
"""

from __future__ import annotations

import argparse
import sqlite3
import time
import urllib.request
from decimal import Decimal
from types import SimpleNamespace

from common import TempDir, fmt, header, summary, table, write_json
from loguru import logger

from dashboard.auth import Auth
from dashboard.server import DashboardServer
from dashboard.source import AccountHandle, DashboardSource
from observability.metrics import BotMetrics
from protections.guard import AccountGuard, build_checks
from storage.repository import Repository
from supervision.status import write_status

CFG = SimpleNamespace(daily_loss_limit_usdt=Decimal(10**9), daily_loss_limit_pct=None,
                      max_drawdown_usdt=Decimal(10**9), max_drawdown_pct=None,
                      stoploss_guard_count=3, stoploss_guard_window_s=3600.0,
                      stoploss_guard_pause_s=3600.0)


def fill_ledger(path, start: int, n: int, now: float) -> None:
    """n fills on n/2 positions (entry + closing fill), the way the bot books them."""
    with sqlite3.connect(path) as c:
        c.executemany(
            "INSERT INTO fills (symbol, client_order_id, position_id, side, amount, price, fee, "
            "realized_pnl, created_at) VALUES (?,?,?,?,?,?,?,?,?)",
            [(f"S{i % 500}/USDT:USDT", f"c{i}", f"p{i // 2}", "buy", "1", "100", "0.05",
              "0" if i % 2 == 0 else ("0.8" if i % 6 else "-1.0"), now - n + i)
             for i in range(start, start + n)])
        c.executemany(
            "INSERT OR REPLACE INTO positions (position_id, symbol, side, contracts, entry_price, "
            "opened_at, closed_at, status, realized_pnl, fees, close_reason) "
            "VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            [(f"p{j}", f"S{(2 * j) % 500}/USDT:USDT", "long", "0", "100", now - n, now - n + 2 * j,
              "closed", "0", "0", "stop_loss" if j % 3 == 0 else "trailing_stop")
             for j in range(start // 2, (start + n) // 2)])


def bench_guard(tmp: TempDir, fills: int, runs: int) -> list[list[str]]:
    repo = Repository(tmp.sub("guard") / "bot.sqlite", synchronous="normal")
    now = time.time()
    fill_ledger(repo.path, 0, fills, now)
    sup = SimpleNamespace(children={}, kill_switch=False, tell=lambda s, m: True)
    guard = AccountGuard(repo=repo, sup=sup, checks=build_checks(CFG, Decimal(10000)),
                         base=Decimal(10000), alert=lambda *a, **k: None, logger=logger)
    t0 = time.perf_counter()
    guard.tick(now)
    replay = time.perf_counter() - t0
    idle = []
    for _ in range(runs):
        t0 = time.perf_counter()
        guard.tick(now)
        idle.append(time.perf_counter() - t0)
    busy = []
    for k in range(runs // 10):
        fill_ledger(repo.path, fills + 10 * k, 10, now)
        t0 = time.perf_counter()
        guard.tick(now)
        busy.append(time.perf_counter() - t0)
    repo.close()
    s_idle, s_busy = summary(idle), summary(busy)
    return [[f"first tick: replay {fills:,} fills", fmt(replay, "ms"), "-", f"{fills / replay:,.0f} fills/s"],
            ["tick, no new fill", fmt(s_idle["median"], "ms"), fmt(s_idle["p99"], "ms"), "-"],
            ["tick, 10 new fills", fmt(s_busy["median"], "ms"), fmt(s_busy["p99"], "ms"), "-"]]


def bench_http(tmp: TempDir, n_symbols: int, runs: int) -> list[list[str]]:
    data = tmp.sub("http")
    actor = {"state": "running", "phase": "open", "restarts": 0, "mailbox": 0, "close_failures": 0,
             "position": {"side": "long", "contracts": "0.01", "entry_price": "100",
                          "mark_price": "101", "unrealized_pnl": "0.01"}, "stop_price": "99"}
    actors = [{**actor, "symbol": f"S{i}/USDT:USDT"} for i in range(n_symbols)]
    entry = {"actors": actors, "escalations": [], "kill_switch": False,
             "health": {"open_positions": n_symbols, "protected_positions": n_symbols,
                        "ts_coverage": 1.0}, "pnl": {"equity": "10000"}}
    write_status(data, {"bot": {"running": True, "heartbeat_at": time.time()}, **entry,
                        "accounts": {"main": entry}})
    repo = Repository(data / "bot.sqlite", synchronous="normal")
    source = DashboardSource(data_dir=data, running=lambda: True, accounts=[AccountHandle(
        name="main", symbols=(), repo=repo, capital=Decimal(10000), log_path=lambda s: data)])
    metrics = BotMetrics(snapshot=source.status)
    server = DashboardServer(source=source, auth=Auth(token="t", host="127.0.0.1"),
                             logger=logger, metrics=metrics.render)
    server.start()
    size, status_t, metrics_t = 0, [], []
    try:
        for _ in range(runs):
            t0 = time.perf_counter()
            with urllib.request.urlopen(server.url + "/api/status") as r:
                size = len(r.read())
            status_t.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            with urllib.request.urlopen(server.url + "/metrics") as r:
                msize = len(r.read())
            metrics_t.append(time.perf_counter() - t0)
    finally:
        server.stop()
        repo.close()
    a, m = summary(status_t), summary(metrics_t)
    return [[f"GET /api/status ({n_symbols} actors, {size / 1024:.0f} KiB)", fmt(a["median"], "ms"),
             fmt(a["p99"], "ms"), f"{1 / a['median']:,.0f} req/s"],
            [f"GET /metrics ({msize / 1024:.0f} KiB)", fmt(m["median"], "ms"), fmt(m["p99"], "ms"),
             f"{1 / m['median']:,.0f} req/s"]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--fills", type=int, default=100_000)
    parser.add_argument("--symbols", type=int, default=500)
    args = parser.parse_args()
    header("operator's view", f"{args.fills:,} fills, {args.symbols} actors, {args.runs} runs")
    tmp = TempDir("operator")
    try:
        rows = bench_guard(tmp, args.fills, args.runs) + bench_http(tmp, args.symbols, args.runs)
    finally:
        tmp.cleanup()
    print(table("protections and dashboard", ["what", "median", "p99", "rate"], rows))
    write_json("operator", {"rows": rows, "args": vars(args)})


if __name__ == "__main__":
    main()
