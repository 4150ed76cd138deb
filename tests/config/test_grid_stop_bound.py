"""The hedge grid's stop must sit beyond every level of both legs (README, Hedge grid:
"validated to sit beyond every level"). Levels compound: each rests `step_pct` from the leg's
last fill (trading/grid/maintain.py `_level_due`), so the short leg's deepest level is
open x (1 + step_pct/100)**levels, beyond open x (1 + step_pct x levels/100). A config whose
stop lies between the two passed the check, and the grid then held that short level back
for good (a level at or beyond the stop is never placed): fewer levels than configured."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from config import ConfigError, load_settings
from trading.model import Side
from trading.rules import MarketRules
from trading.trailing_stop import initial_stop

GRID = ('[exchange]\nhedge_mode = true\n[symbols]\nlist = ["BTC/USDT:USDT"]\n'
        '[strategy]\nname = "hedge_grid"\n[strategy.grid]\nlevels = 4\nstep_pct = 1.0\n'
        'recalc_pct = 2.0\n[risk]\nstop_loss_pct = {stop}\n')
MARKET = MarketRules(amount_step=Decimal("0.001"), price_tick=Decimal("0.01"),
                     min_amount=Decimal("0.001"), min_cost=Decimal("5"))


def _load(tmp_path: Path, stop: str):
    path = tmp_path / "grid.toml"
    path.write_text(GRID.format(stop=stop))
    return load_settings(path)


def test_the_short_legs_deepest_level_lies_beyond_a_stop_at_step_times_levels() -> None:
    """The core's own prices: with 4 levels of 1 %, a short stop 4.05 % above the opening
    price is below the 4th level (1.01**4 = 1.0406...)."""
    opening = Decimal(100)
    level = opening
    for _ in range(4):
        level = initial_stop(Side.SHORT, level, Decimal("1.0"), MARKET)  # as _level_due does
    stop = initial_stop(Side.SHORT, opening, Decimal("4.05"), MARKET)
    assert level > stop


def test_a_stop_inside_the_compounded_levels_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        _load(tmp_path, "4.05")
    message = str(info.value)
    assert "risk.stop_loss_pct: must be > 4.0605" in message
    assert "(got 4.05)" in message


def test_a_stop_beyond_the_compounded_levels_loads(tmp_path: Path) -> None:
    assert _load(tmp_path, "4.07").risk.stop_loss_pct == Decimal("4.07")


def test_a_stop_exactly_at_the_deepest_level_is_refused(tmp_path: Path) -> None:
    """Found by a mutation audit (`stop_loss_pct <= deepest` -> `<` passed every test): a stop
    at the short leg's 4th level itself (1.01**4 - 1 = 4.060401 %) is not beyond it; the stop
    would fire at the price where that level fills, before the level can average anything."""
    with pytest.raises(ConfigError) as info:
        _load(tmp_path, "4.060401")
    assert "risk.stop_loss_pct: must be > 4.0605" in str(info.value)
    assert "(got 4.060401)" in str(info.value)
