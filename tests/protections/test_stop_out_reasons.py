"""Every close reason either position style books for a stop-out counts for the stop-loss
guard, from the one definition the hedge grid waits after too (defect: only "stop_loss" counted,
so the grid's "stop_loss_bot" / "closed_on_exchange" and the core's "trailing_stop" did not)."""

from __future__ import annotations

from decimal import Decimal as D

from protections.checks import StopLossGuard
from protections.ledger_feed import LedgerTotals
from trading.grid import handlers
from trading.stop_outs import GRID_STOPPED_OUT, ONE_WAY_STOPPED_OUT, STOPPED_OUT

T = 1_796_083_200.0
NOT_STOP_OUTS = ("take_profit", "emergency_close", "mean_reverted", "close", "closed")


def _closed(reasons: tuple[str, ...]) -> tuple[list[dict], list[dict]]:
    fills = [{"id": i + 1, "symbol": f"S{i}", "position_id": f"p{i}", "realized_pnl": D("-5"),
              "fee": D("0.1"), "created_at": T + i} for i in range(len(reasons))]
    positions = [{"position_id": f"p{i}", "symbol": f"S{i}", "status": "closed",
                  "closed_at": T + i, "close_reason": r} for i, r in enumerate(reasons)]
    return fills, positions


def test_every_stop_out_reason_of_both_styles_counts_and_no_other():
    reasons = (*sorted(STOPPED_OUT), *NOT_STOP_OUTS)
    t = LedgerTotals()
    t.apply(*_closed(reasons), T + 100)
    counted = {reasons[int(symbol[1:])] for symbol, *_ in t.stop_outs}
    assert counted == {"stop_loss", "stop_loss_bot", "closed_on_exchange", "trailing_stop"}
    assert set(GRID_STOPPED_OUT) | set(ONE_WAY_STOPPED_OUT) == STOPPED_OUT
    assert set(handlers.STOPPED_OUT) == set(GRID_STOPPED_OUT)  # what the grid waits after


def test_the_grid_s_stop_outs_pause_the_symbol():
    for reason in GRID_STOPPED_OUT + ONE_WAY_STOPPED_OUT:
        t, guard = LedgerTotals(), StopLossGuard(count=2, window_s=3600, pause_s=3600)
        fills, positions = _closed((reason, reason))
        for p in positions:
            p["symbol"] = "BTC/USDT:USDT"
        t.apply(fills, positions, T + 10)
        assert [x.symbol for x in guard.evaluate(t, T + 10)] == ["BTC/USDT:USDT"], reason



def test_a_stop_that_locked_in_a_profit_is_not_a_stop_out():
    """A trailing stop (or a stop moved past the entry) that closed in profit does not pause the
    symbol (as Freqtrade's StoplossGuard counts only losing stop exits); nor does one at net
    zero (nothing lost)."""
    fills, positions = _closed(("trailing_stop", "stop_loss", "stop_loss_bot"))
    fills[0]["realized_pnl"] = D("5")  # +4.9 net
    fills[1]["realized_pnl"] = D("0.1")  # net 0: nothing lost
    t = LedgerTotals()
    t.apply(fills, positions, T + 100)
    assert sorted(symbol for symbol, *_ in t.stop_outs) == ["S2"]
