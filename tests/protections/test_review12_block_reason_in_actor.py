"""An entry signal refused by a protection is journaled with that protection's reason (review
12, defect 4: the daily loss limit's refusal was journaled as "entries are blocked (kill switch
or shutdown)"). Real actors and supervisor, the paper exchange, SQLite and the account's guard
(tests/protections/streak_rig.py)."""

from __future__ import annotations

from decimal import Decimal as D
from pathlib import Path
from types import SimpleNamespace

from storage import queries
from tests.exchange.paper.paper_support import BTC, ETH
from tests.protections.streak_rig import StreakRig


def test_a_signal_refused_by_the_daily_loss_limit_names_it(tmp_path: Path):
    cfg = SimpleNamespace(daily_loss_limit_usdt=D("0.01"), daily_loss_limit_pct=None,
                          max_drawdown_usdt=None, max_drawdown_pct=None, stoploss_guard_count=0,
                          stoploss_guard_window_s=3600.0, stoploss_guard_pause_s=3600.0)
    rig = StreakRig(tmp_path, cfg).start()
    try:
        rig.step(BTC, "100")
        rig.step(ETH, "50")
        rig.enter_long(BTC)
        rig.step(BTC, "100")
        assert rig.view(BTC).phase == "open"
        rig.step(BTC, "99.5", "98.5")  # through the 1 % stop: a loss past the limit
        assert rig.view(BTC).phase == "flat"
        tripped = rig.repo.read(queries.events, "*", "ProtectionTripped")
        assert [t["data"]["protection"] for t in tripped] == ["daily_loss_limit"]
        limit = rig.guard.refuse(ETH, rig.clock())
        assert limit is not None and limit.startswith("daily loss limit")
        for symbol in (ETH, BTC):
            rig.enter_long(symbol)
            assert rig.view(symbol).phase == "flat"
            skipped = rig.repo.read(queries.events, symbol, "SignalSkipped")
            assert skipped and skipped[-1]["data"]["reason"] == f"entries are blocked: {limit}"
    finally:
        rig.stop()
