"""[[accounts]] inherit the top-level sections key by key (README, Several accounts; the header
of examples/multi_account.toml: "each [[accounts]] entry replaces the keys it gives (key by key,
per section) and inherits the rest"). `[strategy.grid]` is a table of settings inside a section:
an account giving one grid key (`strategy.grid.levels = 3`) replaced the whole top-level grid,
so its step, size multiplier, take-profit and recalculation silently went back to the defaults
(1 %, 1.0, 0.6 %, 2 %) instead of the file's, and the stop check then measured the stop against
a step the file never set. `paper.csv_files` (symbol -> file) is still replaced whole."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from config import load_settings

SAMPLE = Path(__file__).resolve().parents[2] / "examples" / "data" / "ETHBTC_USDT_USDT-5m.csv"
BTC, ETH = "BTC/USDT:USDT", "ETH/USDT:USDT"

GRID = f"""
[exchange]
hedge_mode = true
[strategy]
name = "hedge_grid"
[strategy.grid]
levels = 4
step_pct = 0.4
size_multiplier = 1.5
take_profit_pct = 0.3
recalc_pct = 0.8
[risk]
stop_loss_pct = 5.0
[paper]
price_source = "csv"
csv_files = {{ "{BTC}" = "btc.csv", "{ETH}" = "eth.csv" }}

[[accounts]]
name = "a"
symbols.list = ["{BTC}"]
strategy.grid.levels = 3
paper.csv_files = {{ "{BTC}" = "a_btc.csv" }}

[[accounts]]
name = "b"
symbols.list = ["{BTC}", "{ETH}"]
"""


def test_an_account_giving_one_grid_key_inherits_the_other_grid_keys(tmp_path: Path) -> None:
    for name in ("btc.csv", "eth.csv", "a_btc.csv"):
        (tmp_path / name).write_bytes(SAMPLE.read_bytes())
    path = tmp_path / "config.toml"
    path.write_text(GRID)
    a, b = load_settings(path).account_settings()
    assert a.strategy.grid.levels == 3
    assert a.strategy.grid.step_pct == Decimal("0.4")
    assert a.strategy.grid.size_multiplier == Decimal("1.5")
    assert a.strategy.grid.take_profit_pct == Decimal("0.3")
    assert a.strategy.grid.recalc_pct == Decimal("0.8")
    assert b.strategy.grid == load_settings(path).strategy.grid
    # a symbol -> file table is the account's own, never merged with the top level's
    assert dict(a.paper.csv_files) == {BTC: "a_btc.csv"}
    assert dict(b.paper.csv_files) == {BTC: "btc.csv", ETH: "eth.csv"}
