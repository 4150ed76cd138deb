"""Reading what the bot and the paper exchange made durable (read-only, never through the bot).

Used by the chaos run between kills: the journal and log lines before and after a kill, the
status snapshot, and both sides' fills for the ledger invariant.
"""

from __future__ import annotations

import json
import sqlite3
import time
from decimal import Decimal
from pathlib import Path


def ro(path: Path) -> sqlite3.Connection:
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
    con.execute("PRAGMA busy_timeout=30000")
    return con


def snapshot_events(db: Path, after_id: int = 0) -> dict[int, tuple]:
    if not db.exists():
        return {}
    con = ro(db)
    try:
        return {r[0]: r[1:] for r in con.execute(
            "SELECT id, symbol, type, data, correlation_id, created_at, recorded_at FROM events "
            "WHERE id > ?", (after_id,))}
    except sqlite3.OperationalError as exc:  # a first start killed before the schema existed
        if "no such table" in str(exc):
            return {}
        raise
    finally:
        con.close()


class Durable:
    """What was durable before a kill: journal rows and log bytes, read incrementally so the
    last read before the kill (just before the moment is seen) takes about a millisecond,
    and the kill lands while the bot is still inside the moment."""

    def __init__(self, db: Path, logs: Path) -> None:
        self.db, self.logs = db, logs
        self.events: dict[int, tuple] = {}
        self.lines: dict[str, bytearray] = {}

    def refresh(self) -> None:
        self.events.update(snapshot_events(self.db, max(self.events, default=0)))
        if not self.logs.exists():
            return
        for path in self.logs.glob("*.log"):
            seen = self.lines.setdefault(path.name, bytearray())
            with path.open("rb") as f:
                if f.seek(0, 2) < len(seen):  # rotated: start over
                    seen.clear()
                f.seek(len(seen))
                seen += f.read()

    def lost(self) -> tuple[list[int], list[str]]:
        """After the kill: journal rows that are gone or changed, log files that lost lines."""
        after = snapshot_events(self.db)
        rows = [i for i, row in self.events.items() if after.get(i) != row]
        files = [name for name, content in self.lines.items()
                 if not ((self.logs / name).read_bytes() if (self.logs / name).exists()
                         else b"").startswith(content)]
        return rows, files


def read_status(data: Path) -> dict | None:
    try:
        return json.loads((data / "status.json").read_text())
    except (OSError, ValueError):
        return None


def wait_reconciled(data: Path, pid: int, timeout: float = 60) -> str | None:
    """None once every actor of the bot with this pid runs and has reconciled; otherwise, at
    the deadline, what was not ready (so a failure names the actor and its state)."""
    deadline = time.monotonic() + timeout
    pending = "no status file"
    while time.monotonic() < deadline:
        s = read_status(data)
        if not s or s["bot"].get("pid") != pid or not s["bot"].get("running") or not s["actors"]:
            pending = f"bot not running (status: {s and s['bot']})"
        else:
            stuck = [a for a in s["actors"] if a["state"] != "running" or not a["reconciled"]]
            if not stuck:
                return None
            pending = "; ".join(f"{a.get('symbol')}: {a['state']}, reconciled={a['reconciled']}, "
                                f"{ {k: v for k, v in a.items() if k not in ('symbol', 'state')} }"
                                for a in stuck)[:1500]
        time.sleep(0.05)
    return pending


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
        rows = con.execute("SELECT client_order_id, amount, fee, realized_pnl FROM fills "
                           "WHERE client_order_id NOT LIKE 'funding-%'").fetchall()  # no fills
    finally:
        con.close()
    out: dict[str, list] = {}
    for cid, amount, fee, realized in rows:
        a = out.setdefault(cid, [Decimal(0), Decimal(0), Decimal(0)])
        a[0] += Decimal(amount)
        a[1] += Decimal(fee)
        a[2] += Decimal(realized)
    return {k: tuple(v) for k, v in out.items()}
