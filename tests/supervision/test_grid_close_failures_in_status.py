"""Rule 2 for the hedge grid: a leg whose close keeps failing shows its counted attempts in the
status dump (`close_failures`, the table's FAIL column, `bot_actor_close_failures`), as a
one-way symbol's closing position does (test_rule_2_status_close_failures.py).

Found by review: the status showed `close_failures` only for the phase "closing", which the
grid's view never has (its phases are open, reopening, flat), so a grid leg refused 4 times out
of 5 showed 0 until it escalated. Real supervisor, SQLite repository, the grid's own view of a
real GridState (as its actor publishes it)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from loguru import logger

from actors.actor_view import Published
from actors.grid_view import grid_view
from storage.repository import Repository
from supervision.alerts import Alerts
from supervision.child import ChildState
from supervision.restart_policy import RestartPolicy
from supervision.status import build_status
from supervision.supervisor import Supervisor
from trading.grid.model import GridState, Leg
from trading.model import Side

BTC = "BTC/USDT:USDT"


def status_of(tmp_path: Path, state: GridState) -> dict:
    repo = Repository(tmp_path / "bot.sqlite")
    try:
        sup = Supervisor(
            symbols=[BTC], start_actor=lambda s: None, repo=repo,  # type: ignore[arg-type,return-value]
            policy=RestartPolicy(max_restarts=3, period_s=60, backoff_initial_s=1,
                                 backoff_max_s=1, stable_after_s=60),
            alerts=Alerts(logger=logger), logger=logger, heartbeat_interval_s=1,
            heartbeat_timeout_s=5, mailbox_max=100, reconcile_interval_s=30,
            kill_switch_escalations=3, kill_switch_window_s=600,
            views={BTC: Published(state, None, True, grid_view)})
        sup.children[BTC].state = ChildState.RUNNING
        (entry,) = build_status(sup, {"pid": 1}, 0.0, [])["actors"]
        return entry
    finally:
        repo.close()


@pytest.mark.parametrize("side", [Side.LONG, Side.SHORT])
def test_a_grid_leg_whose_close_keeps_failing_shows_its_attempts(tmp_path, side):
    """Either leg's (found by the mutation audit: showing the long's attempts alone survived;
    a short whose close kept failing showed 0 until it escalated)."""
    leg = Leg(side=side, position_id="p1", contracts=Decimal("1"), entry_price=Decimal("100"),
              stop_price=Decimal("95" if side is Side.LONG else "105"), close_attempts=3)
    state = (GridState(symbol=BTC, long=leg) if side is Side.LONG
             else GridState(symbol=BTC, short=leg))
    entry = status_of(tmp_path, state)
    assert entry["position"] is not None and entry["close_failures"] == 3


def test_a_grid_without_failed_closes_shows_none(tmp_path):
    leg = Leg(side=Side.LONG, position_id="p1", contracts=Decimal("1"),
              entry_price=Decimal("100"), stop_price=Decimal("95"))
    assert status_of(tmp_path, GridState(symbol=BTC, long=leg))["close_failures"] == 0
