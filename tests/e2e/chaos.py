"""Chaos run: start the bot as a subprocess, SIGKILL it at chosen moments, restart, check.

Run it directly for a long run:  python -m tests.e2e.chaos --kills 100
The pytest wrapper (tests/e2e/test_chaos.py) runs it with 20+ kills in CI.

Invariants checked after every kill and restart:
  events     every journal row committed before the kill is still there, unchanged
  logs       every per-actor log line written before the kill is still in its file
  unique_ids no client order id ever reached the exchange twice (paper submissions table)
  protected  every open position on the exchange is tracked by the bot and has a reduce-only
             stop on the exchange, within a short bound after the restart
  ledger     every fill the bot booked matches the exchange's fills for that order (no phantom,
             no double booking); after reconciliation every earlier exchange fill is booked,
             and at the end the ledger's realized P&L equals the exchange's, to the cent and below
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from tests.e2e.bot_process import start_bot, write_config

SYMBOLS = ["BTC/USDT:USDT", "ETH/USDT:USDT", "SOL/USDT:USDT", "XRP/USDT:USDT", "DOGE/USDT:USDT",
           "BNB/USDT:USDT", "ADA/USDT:USDT", "LINK/USDT:USDT", "AVAX/USDT:USDT", "LTC/USDT:USDT"]
TARGETS = ["startup", "EntryRequested", "StopMoveRequested", "CloseRequested", "StopPlaced",
           "PositionClosed", "random"]


@dataclass
class Report:
    kills: int = 0
    checks: int = 0
    violations: list[str] = field(default_factory=list)
    targets: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    restart_s: list[float] = field(default_factory=list)

    def check(self, ok: bool, what: str) -> None:
        self.checks += 1
        if not ok:
            self.violations.append(what)

    def summary(self) -> str:
        rs = sorted(self.restart_s)
        med = rs[len(rs) // 2] if rs else 0.0
        return (f"chaos: kills={self.kills} invariant_checks={self.checks} "
                f"violations={len(self.violations)} kill_moments={dict(self.targets)} "
                f"restart_to_reconciled_median_s={med:.2f} max_s={max(rs, default=0):.2f}")


def chaos_config(path: Path) -> Path:
    return write_config(
        path, SYMBOLS,
        bot={"status_interval_s": 0.2},
        exchange={"poll_interval_s": 0.05},
        strategy={"window": 5, "entry_z": 0.8, "exit_z": 0.1, "min_volatility_pct": 0},
        risk={"order_size_usdt": 50, "stop_loss_pct": 0.4, "trailing_activation_pct": 0.15,
              "trailing_callback_pct": 0.1, "trailing_step_pct": 0.03, "cooldown_after_loss_s": 0},
        supervision={"reconcile_interval_s": 3},
        paper={"latency_ms": 2, "step_ms": 50, "speed": 5000.0},
        logging={"console": False},
    )


def ro(path: Path) -> sqlite3.Connection:
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
    con.execute("PRAGMA busy_timeout=30000")
    return con


def snapshot_events(db: Path) -> dict[int, tuple]:
    if not db.exists():
        return {}
    con = ro(db)
    try:
        return {r[0]: r[1:] for r in con.execute(
            "SELECT id, symbol, type, data, correlation_id, created_at, recorded_at FROM events")}
    finally:
        con.close()


def snapshot_logs(logs: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in logs.glob("*.log")} if logs.exists() else {}


def wait_log_line(logs: Path, needle: str, after: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    path = logs / "bot.log"
    while time.monotonic() < deadline:
        if path.exists():
            data = path.read_bytes()[after:]
            if needle.encode() in data:
                return True
        time.sleep(0.005)
    return False


def read_status(data: Path) -> dict | None:
    try:
        return json.loads((data / "status.json").read_text())
    except (OSError, ValueError):
        return None


def wait_reconciled(data: Path, pid: int, timeout: float = 60) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        s = read_status(data)
        if s and s["bot"].get("pid") == pid and s["bot"].get("running") and s["actors"] and all(
                a["state"] == "running" and a["reconciled"] for a in s["actors"]):
            return True
        time.sleep(0.05)
    return False


def exchange_fills(paper: Path) -> dict[str, tuple[Decimal, Decimal, Decimal, int]]:
    """Per client order id: (amount, fee, realized, newest ts) from the paper exchange."""
    con = ro(paper)
    try:
        cols = {r[1] for r in con.execute("PRAGMA table_info(trades)")}
        rows = con.execute("SELECT client_order_id, amount, fee, realized_pnl, ts FROM trades").fetchall() \
            if "realized_pnl" in cols else []
    finally:
        con.close()
    out: dict[str, list] = {}
    for cid, amount, fee, realized, ts in rows:
        a = out.setdefault(cid or "", [Decimal(0), Decimal(0), Decimal(0), 0])
        a[0] += Decimal(amount)
        a[1] += Decimal(fee)
        a[2] += Decimal(realized)
        a[3] = max(a[3], int(ts))
    return {k: tuple(v) for k, v in out.items()}


def bot_fills(db: Path) -> dict[str, tuple[Decimal, Decimal, Decimal]]:
    con = ro(db)
    try:
        rows = con.execute("SELECT client_order_id, amount, fee, realized_pnl FROM fills").fetchall()
    finally:
        con.close()
    out: dict[str, list] = {}
    for cid, amount, fee, realized in rows:
        a = out.setdefault(cid, [Decimal(0), Decimal(0), Decimal(0)])
        a[0] += Decimal(amount)
        a[1] += Decimal(fee)
        a[2] += Decimal(realized)
    return {k: tuple(v) for k, v in out.items()}


class Chaos:
    def __init__(self, workdir: Path, seed: int = 1) -> None:
        self.dir = workdir
        self.data = workdir / "data"
        self.config = chaos_config(workdir / "chaos.toml")
        self.rng = random.Random(seed)
        self.report = Report()
        self.proc: subprocess.Popen | None = None

    @property
    def db(self) -> Path:
        return self.data / "bot.sqlite"

    @property
    def paper(self) -> Path:
        return self.data / "paper_exchange.sqlite"

    def start(self) -> float:
        started = time.time()
        self.proc = start_bot(self.config, self.data)
        return started

    def run(self, kills: int) -> Report:
        started = self.start()
        try:
            for n in range(kills):
                self._one_kill(n, started)
                started = self._restart_and_check()
            self._final_check()
        finally:
            if self.proc and self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
        return self.report

    def _one_kill(self, n: int, started: float) -> None:
        target = TARGETS[n % len(TARGETS)] if n < len(TARGETS) else self.rng.choice(TARGETS)
        logs = self.data / "logs"
        offset = (logs / "bot.log").stat().st_size if (logs / "bot.log").exists() else 0
        if target == "startup":
            time.sleep(self.rng.uniform(0.0, 0.3))
            wait_log_line(logs, "reconciled", offset, 10)
        elif target == "random":
            time.sleep(self.rng.uniform(0.05, 2.0))
        elif not wait_log_line(logs, target, offset, 8):
            target = "timeout"
        time.sleep(self.rng.uniform(0, 0.02))
        events = snapshot_events(self.db)
        lines = snapshot_logs(logs)
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait()
        self.report.kills += 1
        self.report.targets[target] += 1
        after = snapshot_events(self.db)
        lost = [i for i, row in events.items() if after.get(i) != row]
        self.report.check(not lost, f"kill {n}: {len(lost)} committed events lost or changed")
        for name, content in lines.items():
            now = (logs / name).read_bytes() if (logs / name).exists() else b""
            self.report.check(now.startswith(content), f"kill {n}: log lines lost in {name}")

    def _restart_and_check(self) -> float:
        t0 = time.time()
        started = self.start()
        assert self.proc is not None
        ok = wait_reconciled(self.data, self.proc.pid)
        self.report.check(ok, "restart: actors not all running and reconciled within 60s")
        self.report.restart_s.append(time.time() - t0)
        self._check_unique_ids()
        self._check_protected()
        self._check_ledger(before_ms=int(t0 * 1000))
        self._check_no_guesswork()
        return started

    def _check_no_guesswork(self) -> None:
        """Every order here is the bot's own, so reconciliation must never have to adopt an
        unknown position or close one without fills: either would mean a stale snapshot."""
        con = ro(self.db)
        try:
            bad = con.execute("SELECT symbol, type, data FROM events WHERE type IN "
                              "('PositionAdopted', 'CloseWithoutFills', 'FillWithoutPosition')").fetchall()
        finally:
            con.close()
        self.report.check(not bad, f"reconciliation guessed: {bad[:3]}")

    def _check_unique_ids(self) -> None:
        con = ro(self.paper)
        try:
            dups = con.execute("SELECT client_order_id, count(*) FROM submissions "
                               "WHERE client_order_id IS NOT NULL GROUP BY client_order_id "
                               "HAVING count(*) > 1").fetchall()
        finally:
            con.close()
        self.report.check(not dups, f"client order ids sent twice: {dups[:5]}")

    def _check_protected(self, bound_s: float = 5.0) -> None:
        deadline = time.monotonic() + bound_s
        problems: list[str] = []
        while time.monotonic() < deadline:
            problems = self._unprotected()
            if not problems:
                break
            time.sleep(0.05)
        self.report.check(not problems, f"positions not tracked/protected within {bound_s}s: {problems[:3]}")

    def _unprotected(self) -> list[str]:
        ex, bot = ro(self.paper), ro(self.db)
        try:
            positions = ex.execute("SELECT symbol, qty FROM positions").fetchall()
            problems = []
            for symbol, contracts in positions:
                if Decimal(contracts) == 0:
                    continue
                stops = ex.execute("SELECT count(*) FROM orders WHERE symbol=? AND status='open' AND "
                                   "reduce_only=1 AND (stop_loss_price IS NOT NULL OR trigger_price IS NOT NULL)",
                                   (symbol,)).fetchone()[0]
                tracked = bot.execute("SELECT contracts FROM positions WHERE symbol=? AND status='open'",
                                      (symbol,)).fetchone()
                if not stops or tracked is None or Decimal(tracked[0]) != Decimal(contracts).copy_abs():
                    problems.append(f"{symbol}: exchange {contracts}, bot {tracked}, stops {stops}")
            return problems
        finally:
            ex.close()
            bot.close()

    def _check_ledger(self, before_ms: int | None) -> None:
        # the bot first: it only books a fill after the exchange committed it, so anything in
        # this read of the ledger must be in the exchange read that follows
        mine = bot_fills(self.db)
        ex = exchange_fills(self.paper)
        for cid, (amount, fee, realized) in mine.items():
            theirs = ex.get(cid)
            ok = theirs is not None and theirs[0] == amount and theirs[1] == fee and theirs[2] == realized
            self.report.check(ok, f"ledger: booked {cid} {amount}/{fee}/{realized} but exchange has {theirs}")
        if before_ms is not None:
            missing = [cid for cid, v in ex.items() if v[3] < before_ms - 1000 and cid not in mine]
            self.report.check(not missing, f"ledger: exchange fills never booked after restart: {missing[:5]}")

    def _final_check(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=60)
        self.report.check(self.proc.returncode == 0, f"final SIGTERM exit code {self.proc.returncode}")
        # one last start to reconcile anything the last moments left behind, then stop
        self.start()
        wait_reconciled(self.data, self.proc.pid)
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=60)
        mine = bot_fills(self.db)
        ex = exchange_fills(self.paper)
        total_ex = sum((v[2] - v[1] for v in ex.values()), Decimal(0))
        total_bot = sum((v[2] - v[1] for v in mine.values()), Decimal(0))
        self.report.check(total_ex == total_bot, f"ledger total {total_bot} != exchange {total_ex}")
        self._check_ledger(before_ms=None)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kills", type=int, default=100)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--dir", default=None)
    a = ap.parse_args()
    import tempfile

    workdir = Path(a.dir or tempfile.mkdtemp(prefix="chaos-"))
    workdir.mkdir(parents=True, exist_ok=True)
    report = Chaos(workdir, seed=a.seed).run(a.kills)
    print(report.summary())
    for v in report.violations[:20]:
        print("VIOLATION:", v)
    return 1 if report.violations else 0


if __name__ == "__main__":
    sys.exit(main())
