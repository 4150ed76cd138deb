"""Chaos run for the hedge grid: the one-way chaos run (tests/e2e/chaos.py) with a grid config,
kill moments taken from the grid's own journal, and the grid's invariants:

  protected  every leg open on the exchange is tracked by the bot (same side, same contracts)
             and covered by a reduce-only stop of that side, within a bound after the restart
             (each leg on its own: clean at some poll within the bound)
  ledger     per order, the bot's fills equal the exchange's (amount, fee, realized P&L)
  no_loop    no leg opened twice within one message (a decision never repeats on a price it
             already acted on)

Run it directly for a long run:  python -m tests.e2e.chaos_grid --kills 100
"""

from __future__ import annotations

import json
import sys
from decimal import Decimal
from pathlib import Path

from tests.e2e.chaos import Chaos
from tests.e2e.chaos import main as chaos_main
from tests.e2e.chaos_files import ro
from tests.e2e.chaos_moments import Moment, Predicate, Probe, starting

GRID_SYMBOLS = ["BTC/USDT:USDT", "ETH/USDT:USDT", "SOL/USDT:USDT", "XRP/USDT:USDT"]


def _grid_order(kind: str, status: str = "pending") -> Predicate:
    """A grid order of this kind in this status, created by this process (the grid keeps its
    orders in grid_state, not in the orders table). The order's own `created_at`, not the
    document's `updated_at`: a restart rewrites the document while an entry an earlier process
    sent is still pending (its send grace, trading/order_evidence.py), and that entry counted
    as this process's entry in flight (a 30-kill live grid run credited one entry to 3 kills)."""
    def inside(p: Probe) -> str | None:
        rows = p.query(
            "SELECT g.symbol, json_extract(o.value, '$.client_order_id') FROM grid_state g, "
            "json_each(g.data, '$.orders') o WHERE json_extract(o.value, '$.kind') = ? AND "
            "json_extract(o.value, '$.status') = ? AND "
            "json_extract(o.value, '$.created_at') >= ? LIMIT 1",
            kind, status, p.since)
        return " ".join(str(v) for v in rows[0]) if rows else None
    return inside


def _cancels_after_close(p: Probe) -> str | None:
    """A leg closed (its side waits to reopen) while cancels of its orders are in flight: the
    reopen must wait for every one of them (incident 9). Cancels this process asked for (an
    earlier process's, still unanswered in a rewritten document, are not this one's), of an
    order the exchange acknowledged or this process sent: an earlier process's order never
    acknowledged stays pending through its send grace, and every restart asks its cancel again
    (a paper run credited one such level to 3 kills)."""
    rows = p.query(
        "SELECT g.symbol, json_extract(o.value, '$.client_order_id') FROM grid_state g, "
        "json_each(g.data, '$.orders') o WHERE json_array_length(g.data, '$.reopen') > 0 AND "
        "json_extract(o.value, '$.cancel_requested_at') >= ? AND "
        "(json_extract(o.value, '$.status') != 'pending' OR "
        "json_extract(o.value, '$.created_at') >= ?) LIMIT 1",
        p.since, p.since)
    return " ".join(str(v) for v in rows[0]) if rows else None


def _anytime(p: Probe) -> str | None:
    import time

    return f"{time.time() - p.since:.2f}s after start"


GRID_MOMENTS: dict[str, Moment] = {m.name: m for m in (
    Moment(name="startup", what="actors starting and reconciling", inside=starting()),
    Moment(name="leg_entry_in_flight", what="a leg's opening order sent, its answer not committed",
           inside=_grid_order("entry")),
    Moment(name="leg_stop_in_flight", what="a leg's stop order in flight",
           inside=_grid_order("stop")),
    Moment(name="level_in_flight", what="a level order in flight", inside=_grid_order("add")),
    Moment(name="take_profit_in_flight", what="a take-profit order in flight",
           inside=_grid_order("tp")),
    Moment(name="cancels_after_close_in_flight", what="a closed leg's cancels in flight",
           inside=_cancels_after_close),
    Moment(name="random", what="any moment", inside=_anytime),
)}
GRID_TARGETS = list(GRID_MOMENTS)

CONFIG = """
[bot]
mode = "paper"
account = "grid"
status_interval_s = 0.2
[exchange]
id = "paper"
hedge_mode = true
poll_interval_s = 0.05
[symbols]
list = ["BTC/USDT:USDT", "ETH/USDT:USDT", "SOL/USDT:USDT", "XRP/USDT:USDT"]
[strategy]
name = "hedge_grid"
[strategy.grid]
levels = 3
step_pct = 0.3
size_multiplier = 1.5
take_profit_pct = 0.3
recalc_pct = 0.8
[risk]
order_size_usdt = 100
leverage = 5
stop_loss_pct = 1.5
[supervision]
reconcile_interval_s = 3
[logging]
console = false
[dashboard]
port = 0
[paper]
starting_balance_usdt = 100000
latency_ms = 25
step_ms = 100
speed = 5000.0
"""


class GridChaos(Chaos):
    moments = GRID_MOMENTS
    symbols = GRID_SYMBOLS

    def __init__(self, workdir: Path, seed: int = 1) -> None:
        super().__init__(workdir, seed, signals=False)  # the grid trades no external signals
        self.config = workdir / "chaos_grid.toml"
        self.config.write_text(CONFIG)

    def _unprotected(self) -> dict[str, str]:
        ex, bot = ro(self.paper), ro(self.db)
        try:
            problems = {}
            for symbol, side, qty in ex.execute("SELECT symbol, side, qty FROM positions"):
                contracts = Decimal(qty).copy_abs()
                if contracts == 0:
                    continue
                stops = ex.execute(
                    "SELECT amount FROM orders WHERE symbol=? AND position_side=? AND status='open' AND "
                    "reduce_only=1 AND stop_loss_price IS NOT NULL", (symbol, side)).fetchall()
                covered = any(Decimal(a) >= contracts for (a,) in stops)
                tracked = bot.execute("SELECT contracts FROM positions WHERE symbol=? AND side=? AND "
                                      "status='open'", (symbol, side)).fetchone()
                if not covered or tracked is None or Decimal(tracked[0]) != contracts:
                    problems[f"{symbol} {side}"] = (f"{symbol} {side}: exchange {contracts}, "
                                                    f"bot {tracked}, stops {stops}")
            return problems
        finally:
            ex.close()
            bot.close()

    def _check_no_guesswork(self) -> None:
        con = ro(self.db)
        try:
            adopted = con.execute("SELECT symbol, data FROM events WHERE type='LegAdopted'").fetchall()
            rows = con.execute("SELECT id, symbol, type, data, correlation_id FROM events WHERE type IN "
                               "('LegOpened', 'LevelPlaced') ORDER BY id").fetchall()
        finally:
            con.close()
        self.report.check(not adopted, f"reconciliation adopted a leg it should have known: {adopted[:3]}")
        repeated = repeated_openings(rows)
        self.report.check(not repeated, f"a leg opened twice in one message: {repeated[:3]}")


def repeated_openings(rows: list[tuple[int, str, str, str, str]]) -> list[tuple[str, str, str]]:
    """(symbol, message, leg) of every leg opened again within one message by a decision.

    A leg may open twice in one message without a repeated decision: its take-profit closes it,
    and a grid level placed for that position fills before the cancel the close sent lands (a
    race every venue has). Such an opening's position id is a level order whose LevelPlaced names
    the position opened before it. Any other second opening (a fresh entry, or a level placed
    for no position or another one) is a decision made again on a price already acted on.
    `rows`: (id, symbol, type, data, correlation_id) of LegOpened and LevelPlaced, in journal
    order."""
    level_for: dict[str, str | None] = {}   # level order id -> the position it was placed for
    last: dict[tuple[str, str, str], str | None] = {}   # (symbol, message, leg) -> position id
    repeated = []
    for _, symbol, kind, data, cid in rows:
        d = json.loads(data)
        if kind == "LevelPlaced":
            level_for[d["order"]] = d.get("position_id")
            continue
        key = (symbol, cid, d["leg"])
        if key in last:
            before = last[key]
            if before is None or level_for.get(d["position_id"] or "", None) != before:
                repeated.append(key)
        last[key] = d["position_id"]
    return repeated

if __name__ == "__main__":
    sys.exit(chaos_main(GridChaos, __doc__, prefix="chaos-grid-"))
