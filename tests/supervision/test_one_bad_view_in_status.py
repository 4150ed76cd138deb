"""One symbol whose state cannot be rendered for the status does not take the account's
status with it. Found by review: `build_status` let the render's exception out, so the
account's status failed every round: its actors left status.json (the single-account bot's
showed open 0, ts_coverage 100 %) and the stop-coverage and reconcile alerts, which look at
that status, looked at no symbol. Now the symbol's line names the error and counts as a symbol
whose holdings are unknown (unreadable: coverage below 1); every other symbol is as before.
Real supervisor (not started) on real SQLite; the published states are injected as views."""

from __future__ import annotations

from decimal import Decimal

from loguru import logger

from actors.actor_view import Published
from storage.repository import Repository
from supervision.alerts import Alerts
from supervision.restart_policy import RestartPolicy
from supervision.status import build_status
from supervision.supervisor import Supervisor
from trading.model import Phase, Position, Side, SymbolState

BTC, ETH = "BTC/USDT:USDT", "ETH/USDT:USDT"


def broken_render(state, last_tick_at, reconciled):  # noqa: ANN001, ANN201
    raise ArithmeticError("a bug in one core's view")


def test_one_symbol_that_cannot_be_rendered_leaves_the_others_in_the_status(tmp_path):
    repo = Repository(tmp_path / "bot.sqlite", synchronous="normal")
    views: dict = {}
    sup = Supervisor(
        symbols=[BTC, ETH], start_actor=lambda s: None, repo=repo,  # type: ignore[arg-type]
        policy=RestartPolicy(max_restarts=3, period_s=60, backoff_initial_s=1,
                             backoff_max_s=1, stable_after_s=30),
        alerts=Alerts(logger=logger), logger=logger, heartbeat_interval_s=1,
        heartbeat_timeout_s=5, mailbox_max=100, reconcile_interval_s=30,
        kill_switch_escalations=3, kill_switch_window_s=600, views=views)
    try:
        eth = SymbolState(symbol=ETH, phase=Phase.OPEN, position=Position(
            position_id="p1", side=Side.LONG, contracts=Decimal("1"),
            entry_price=Decimal("2000"), opened_at=1_800_000_000.0))
        views[ETH] = Published(state=eth, last_tick_at=None, reconciled=True)
        views[BTC] = Published(state=SymbolState(symbol=BTC), last_tick_at=None,
                               reconciled=True, render=broken_render)
        status = build_status(sup, {"pid": 1}, 1_800_000_000.0, [])
        lines = {a["symbol"]: a for a in status["actors"]}
        assert lines[ETH]["position"]["side"] == "long"
        assert "a bug in one core's view" in lines[BTC]["view_error"]
        assert status["health"]["open_positions"] == 1
        assert status["health"]["unreadable_symbols"] == 1
        assert status["health"]["ts_coverage"] < 1
    finally:
        sup.records.close()
        repo.close()
