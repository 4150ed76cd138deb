"""Issue 16 items 1-4, proven on the whole bot: `python bot.py` runs the hedge grid on a paper
market fast enough that prices jump past stops between a fill and its stop order. Afterwards,
read straight from both SQLite files:
- the ledger equals the exchange's fills, per order, to the last digit (item 3);
- no leg opened twice within one message: no decision repeated on a price already acted on (1);
- every message that opened or grew a leg also placed its stop, or closed the leg (2, 4);
- closed position rows agree with the ledger (item 6)."""

from __future__ import annotations

import json
import sqlite3
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

import pytest

from tests.e2e.bot_process import count_rows, run_until

pytestmark = pytest.mark.slow
EVENTS = "SELECT count(*) FROM events WHERE type = ?"
STOPPED = ("SELECT count(*) FROM positions WHERE status = 'closed' "
           "AND close_reason IN ('stop_loss', 'stop_loss_bot')")
FILLED_ORDERS = "SELECT count(DISTINCT client_order_id) FROM trades"

CONFIG = """
[bot]
mode = "paper"
account = "grid"
[exchange]
id = "paper"
hedge_mode = true
poll_interval_s = 0.1
[symbols]
list = ["BTC/USDT:USDT", "ETH/USDT:USDT", "SOL/USDT:USDT", "XRP/USDT:USDT"]
[strategy]
name = "hedge_grid"
[strategy.grid]
levels = 4
step_pct = 0.4
size_multiplier = 1.5
take_profit_pct = 0.3
recalc_pct = 0.8
[risk]
order_size_usdt = 100
leverage = 5
stop_loss_pct = 3.0
[logging]
console = false
[paper]
starting_balance_usdt = 100000
latency_ms = 5
speed = 20000.0
step_ms = 1000
"""


def _per_order(rows) -> dict[str, list[Decimal]]:
    out: dict[str, list[Decimal]] = defaultdict(lambda: [Decimal(0)] * 3)
    for cid, pnl, fee, amount in rows:
        out[cid] = [out[cid][0] + Decimal(pnl), out[cid][1] + Decimal(fee), out[cid][2] + Decimal(amount)]
    return dict(out)


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("fastgrid")
    (tmp / "grid.toml").write_text(CONFIG)
    data = tmp / "data"
    # stopped (SIGTERM) once the market did what the tests below count on, not after a fixed
    # --duration (20 s): a bot stalled a few seconds on a loaded machine did too little in it
    run_until(tmp / "grid.toml", data, lambda _: _went_through_stops(data),
              "10 legs opened, 5 averaged, a stop hit and 20 orders filled", timeout=180)
    return data


def _went_through_stops(data: Path) -> bool:
    """What the tests below need the run to have done (each still asserts its own count)."""
    db = data / "bot.sqlite"
    return (count_rows(db, EVENTS, "LegOpened") >= 10 and count_rows(db, EVENTS, "LegAveraged") >= 5
            and count_rows(db, STOPPED) > 0
            and count_rows(data / "paper_exchange.sqlite", FILLED_ORDERS) >= 20)


def _events(data: Path) -> dict[tuple[str, str], list[tuple[str, dict]]]:
    by: dict[tuple[str, str], list[tuple[str, dict]]] = defaultdict(list)
    with sqlite3.connect(data / "bot.sqlite") as db:
        for sym, typ, payload, cid in db.execute(
                "SELECT symbol, type, data, correlation_id FROM events ORDER BY id"):
            by[(sym, cid)].append((typ, json.loads(payload)))
    return by


def test_the_fast_market_really_went_through_stops(run: Path):
    types = [t for evs in _events(run).values() for t, _ in evs]
    assert types.count("LegOpened") >= 10 and types.count("LegAveraged") >= 5
    with sqlite3.connect(run / "bot.sqlite") as db:
        reasons = [r for (r,) in db.execute("SELECT close_reason FROM positions WHERE status='closed'")]
    assert {"stop_loss", "stop_loss_bot"} & set(reasons), reasons  # prices jumped past stops


def _ledgers(data: Path) -> tuple[dict[str, list[Decimal]], dict[str, list[Decimal]]]:
    with sqlite3.connect(data / "bot.sqlite") as db:
        ledger = _per_order(db.execute("SELECT client_order_id, realized_pnl, fee, amount FROM fills"))
    with sqlite3.connect(data / "paper_exchange.sqlite") as db:
        exchange = _per_order(db.execute("SELECT client_order_id, realized_pnl, fee, amount FROM trades"))
    return ledger, exchange


def test_ledger_equals_the_exchanges_fills_per_order(run: Path):
    ledger, exchange = _ledgers(run)
    assert len(exchange) >= 20
    wrong = {cid: (exchange.get(cid), mine) for cid, mine in ledger.items() if exchange.get(cid) != mine}
    assert wrong == {}, f"{len(wrong)} of {len(ledger)} booked orders differ: {list(wrong.items())[:3]}"
    # Fills made while the bot was down, booked by the next start: not checkable here (the
    # paper exchange fills only while the bot runs, so a clean stop leaves none: the check that
    # stood here compared an empty set in every run). tests/e2e/test_chaos_grid.py checks it
    # across SIGKILLs (its "ledger" check: per order, the bot's fills equal the exchange's).


def test_no_leg_opens_twice_in_one_message_and_every_growth_places_its_stop(run: Path):
    """A growth is guarded when its message placed a stop or closed the leg, or when the stop
    already acknowledged covers the grown leg (a leg's stop covers its resting level too)."""
    grew, unguarded, twice, covered = 0, [], [], 0
    size: dict[tuple[str, str], Decimal] = defaultdict(Decimal)  # (symbol, leg) -> contracts
    stop: dict[tuple[str, str], Decimal] = defaultdict(Decimal)  # -> acknowledged stop size
    for key, evs in _events(run).items():
        for leg in ("long", "short"):
            mine = [(t, d) for t, d in evs if d.get("leg") == leg]
            types = [t for t, _ in mine]
            at = (key[0], leg)
            for t, d in mine:  # the leg's size and its stop's, as the journal tells them
                if t in ("LegOpened", "LegAveraged"):
                    size[at] += Decimal(d["amount"])
                elif t == "LegReduced":
                    size[at] -= Decimal(d["amount"])
                elif t == "LegClosed":
                    size[at] = stop[at] = Decimal(0)
                elif t == "StopPlaced":
                    stop[at] = Decimal(d["amount"])
            if "LegOpened" not in types and "LegAveraged" not in types:
                continue
            grew += 1
            if not {"StopPlaced", "LegClosed", "StopCrossedUnprotected"} & set(types):
                if stop[at] >= size[at] > 0:
                    covered += 1
                else:
                    unguarded.append((key, types, stop[at], size[at]))
            if types.count("LegOpened") > 1:
                twice.append((key, types))
    assert grew >= 10
    assert twice == [], twice[:2]
    assert unguarded == [], unguarded[:2]


def test_closed_leg_rows_agree_with_the_ledger(run: Path):
    with sqlite3.connect(run / "bot.sqlite") as db:
        booked: dict[str, Decimal] = defaultdict(Decimal)
        for pid, pnl in db.execute("SELECT position_id, realized_pnl FROM fills"):
            booked[pid] += Decimal(pnl)
        rows = db.execute("SELECT position_id, realized_pnl FROM positions WHERE status='closed'").fetchall()
    assert rows and all(Decimal(p) == booked[pid] for pid, p in rows)
