"""A close whose net is exactly zero (its P&L paid its fees to the cent) is a draw: not a win,
not a loss. Found by review: the guard's totals counted it a loss, so the status, the dashboard
and the daily summary said `0W/1L` for an account that lost nothing; the backtest report (and
Freqtrade, whose report this follows) counts it neither. The win rate stays wins / closed
positions in every place (status, /metrics, backtest). A late fee still moves it to a loss.

The real guard over a real SQLite ledger (tests/protections/ledger_rig.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from protections.guard import AccountGuard
from supervision.status import combine_status, render_table
from tests.protections.ledger_rig import BTC, ETH, T0, Ledger, protections
from tests.supervision.test_status_view import ACCOUNT, BOT


def pnl(guard: AccountGuard, now: float) -> dict[str, Any]:
    return guard.status_fields(now)["pnl"]


def counts(guard: AccountGuard, now: float) -> tuple[int, int, int]:
    p = pnl(guard, now)
    return p["wins"], p["draws"], p["losses"]


def test_a_close_that_nets_zero_is_a_draw_not_a_loss(tmp_path: Path) -> None:
    led = Ledger(tmp_path)
    try:
        led.closed("p1", BTC, "exit_signal", T0, pnl="0.10", fee="0.10")  # nets 0
        led.closed("p2", ETH, "take_profit", T0 + 1, pnl="1", fee="0.1")
        guard = led.guard(protections(), T0 + 2)
        guard.tick(T0 + 2)
        assert counts(guard, T0 + 2) == (1, 1, 0)
        assert pnl(guard, T0 + 2)["win_rate"] == 0.5  # wins / closed positions, as before
        led.fills([("p1", BTC, T0 + 3, "0", "0.01")])  # its fee told later: now a loss
        guard.tick(T0 + 4)
        assert counts(guard, T0 + 4) == (1, 0, 1)
        restarted = led.guard(protections(), T0 + 5)  # the replay counts the same
        restarted.tick(T0 + 5)
        assert counts(restarted, T0 + 5) == (1, 0, 1)
    finally:
        led.close()


def test_the_status_table_shows_draws_apart() -> None:
    pnl = {**ACCOUNT["pnl"], "wins": 1, "draws": 1, "losses": 0, "win_rate": 0.5}
    status = combine_status({**BOT, "account": "main"}, {"main": {**ACCOUNT, "pnl": pnl}}, 5.0,
                            grouped=False)
    assert "win rate 50% (1W/1D/0L)" in render_table(status)
