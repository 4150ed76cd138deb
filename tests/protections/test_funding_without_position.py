"""A ledger row booked against no position (position id "": a funding payment no open position
explains, trading/funding.py NO_POSITION; a grid leg's fill whose leg has no position id) is
money the wallet paid or received: it counts in the P&L totals, today's loss, the drawdown and
the equity curve, as README's Funding says ("the ledger's total still follows the wallet").
Found by review: the ledger reader took "" for a damaged row, so every such payment was left
out of the status, the daily loss limit and the curve, and each start logged it as an
unreadable ledger row. The real guard over a real SQLite ledger (tests/protections/ledger_rig.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal as D
from pathlib import Path

import pytest

from storage import reports
from tests.protections.ledger_rig import BASE, BTC, T0, Ledger, protections


@pytest.fixture
def led(tmp_path: Path) -> Iterator[Ledger]:
    ledger = Ledger(tmp_path)
    yield ledger
    ledger.close()


def funding(led: Ledger, record: str, at: float, fee: str) -> None:
    """A payment as trading/funding.py books it against no position (quantity 0, fee only)."""
    led._write([("INSERT INTO fills (symbol, client_order_id, position_id, side, amount, "
                 "price, fee, realized_pnl, created_at) VALUES (?,?,?,?,?,?,?,?,?)",
                 [(BTC, f"funding-{record}", "", "", "0", "0", fee, "0", at)])])


def test_a_payment_against_no_position_counts_everywhere(led: Ledger) -> None:
    led.closed("p1", BTC, "strategy_exit", T0, pnl="2", fee="0.5")
    funding(led, "f1", T0 + 10, "3")  # paid 3 USDT, no position of ours open
    guard = led.guard(protections(daily_loss_limit_usdt=D(1)), T0 + 20)
    trips = guard.tick(T0 + 20)
    pnl = guard.status_fields(T0 + 20)["pnl"]
    assert (pnl["fees"], pnl["realized_total"], pnl["realized_today"]) == ("3.5", "-1.5", "-1.5")
    assert pnl["drawdown"] == "3.0" and (pnl["wins"], pnl["losses"]) == (1, 0)
    assert [t.name for t in trips] == ["daily_loss_limit"]
    assert led.log.errors == []
    curve = led.repo.read(reports.equity_points, BASE, 500)
    assert curve[-1]["equity"] == str(BASE - D("1.5"))
