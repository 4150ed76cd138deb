"""Issue 16 item 6: every table that reports money agrees with the ledger. A real `python bot.py`
runs a fast paper market in each trading style; afterwards the closed rows of `positions` must
carry exactly the realized P&L and fees the ledger (`fills`) booked for them."""

from __future__ import annotations

import sqlite3
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

import pytest

from tests.e2e.bot_process import count_rows, run_until, write_config

pytestmark = pytest.mark.slow
CLOSED = "SELECT count(*) FROM positions WHERE status='closed'"
CLOSED_WANTED = 10  # a 15 s run closed 20 (hedge grid) and 51 (one way) on an idle machine

FAST = {"starting_balance_usdt": 100000, "latency_ms": 5, "speed": 20000.0, "step_ms": 1000}
STYLES = {
    "one_way": dict(
        strategy={"window": 5, "entry_z": 0.5, "exit_z": 0.1, "min_volatility_pct": 0},
        risk={"order_size_usdt": 100, "stop_loss_pct": 0.5, "take_profit_pct": 0.4,
              "cooldown_after_loss_s": 0, "max_open_positions": 20},
        exchange={"poll_interval_s": 0.1}),
    "hedge_grid": dict(
        strategy={"name": "hedge_grid"},
        risk={"order_size_usdt": 100, "stop_loss_pct": 3.0},
        exchange={"hedge_mode": True, "poll_interval_s": 0.1}),
}


def _run(tmp_path: Path, style: str) -> Path:
    sections = {k: dict(v) for k, v in STYLES[style].items()}
    config = write_config(tmp_path / "bot.toml", ["BTC/USDT:USDT", "ETH/USDT:USDT", "SOL/USDT:USDT",
                                                  "XRP/USDT:USDT"],
                          bot={"mode": "paper"}, logging={"console": False}, paper=FAST, **sections)
    if style == "hedge_grid":
        text = config.read_text().replace('[strategy]\nname = "hedge_grid"',
                                          '[strategy]\nname = "hedge_grid"\n[strategy.grid]\nlevels = 4\n'
                                          'step_pct = 0.4\nsize_multiplier = 1.5\ntake_profit_pct = 0.3\n'
                                          'recalc_pct = 0.8')
        config.write_text(text)
    data = tmp_path / "data"
    # stopped (SIGTERM) once CLOSED_WANTED positions closed, not after a fixed --duration
    # (15 s): a bot stalled a few seconds on a loaded machine closed too few in that time
    run_until(config, data, lambda _: count_rows(data / "bot.sqlite", CLOSED) >= CLOSED_WANTED,
              f"{CLOSED_WANTED} closed positions")
    return data


@pytest.mark.parametrize("style", sorted(STYLES))
def test_closed_position_rows_agree_with_the_ledger(tmp_path: Path, style: str):
    data = _run(tmp_path, style)
    db = sqlite3.connect(data / "bot.sqlite")
    ledger: dict[str, list[Decimal]] = defaultdict(lambda: [Decimal(0), Decimal(0)])
    for pid, pnl, fee in db.execute("SELECT position_id, realized_pnl, fee FROM fills"):
        ledger[pid][0] += Decimal(pnl)
        ledger[pid][1] += Decimal(fee)
    closed = db.execute("SELECT position_id, realized_pnl, fees, close_reason FROM positions "
                        "WHERE status='closed'").fetchall()
    assert len(closed) >= 3, f"the fast market closed only {len(closed)} positions: nothing to check"
    wrong = [(pid, pnl, fees, ledger[pid]) for pid, pnl, fees, _ in closed
             if [Decimal(pnl), Decimal(fees)] != ledger[pid]]
    assert wrong == [], f"{len(wrong)} of {len(closed)} closed rows disagree with the ledger: {wrong[:3]}"
    assert all(reason and reason != "closed" for *_, reason in closed), closed[:5]
    table = sum(Decimal(p) - Decimal(f) for _, p, f, _ in closed)
    booked = sum(ledger[pid][0] - ledger[pid][1] for pid, *_ in closed)
    assert table == booked
