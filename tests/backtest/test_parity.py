"""Parity: the same CSV and config through the backtester and through paper mode with the real
actors (fixed step, driven to completion) give identical trades: the same fills (side, amount,
price, fee, realized P&L) in the same order and the same closes (reason, P&L, fees), for both
trading styles, and with the strategy's volume filter on (the ticker's 24 h quote volume)."""

from __future__ import annotations

from pathlib import Path

import pytest

from backtest import candles as C
from backtest import engine
from config.loader import load_settings
from tests.backtest.paper_stepper import ledger_key, run_paper

DATA = Path(__file__).resolve().parent.parent / "data"
SYMBOLS = {"ETHBTC/USDT:USDT": "ETH_BTC-5m.csv", "LTCBTC/USDT:USDT": "LTC_BTC-5m.csv"}
CANDLES = 700

ONE_WAY = """
[bot]
account = "par"
[symbols]
list = ["ETHBTC/USDT:USDT", "LTCBTC/USDT:USDT"]
[strategy]
window = 40
entry_z = 2.0
exit_z = 0.3
min_volatility_pct = 0.05
[risk]
order_size_usdt = 100
stop_loss_pct = 1.0
trailing_activation_pct = 0.5
trailing_callback_pct = 0.3
trailing_step_pct = 0.1
take_profit_pct = 0.8
cooldown_after_loss_s = 1800
"""

GRID = """
[bot]
account = "par"
[exchange]
hedge_mode = true
[symbols]
list = ["ETHBTC/USDT:USDT", "LTCBTC/USDT:USDT"]
[strategy]
name = "hedge_grid"
[strategy.grid]
levels = 3
step_pct = 0.4
size_multiplier = 1.5
take_profit_pct = 0.3
recalc_pct = 0.8
[risk]
order_size_usdt = 100
stop_loss_pct = 3.0
"""


def _files(tmp: Path) -> dict[str, Path]:
    out = {}
    for symbol, name in SYMBOLS.items():
        lines = (DATA / name).read_text().splitlines()[: CANDLES + 1]
        out[symbol] = tmp / name
        out[symbol].write_text("\n".join(lines) + "\n")
    return out


def _closes(rows: list[tuple[str, str, dict]]) -> dict[str, list[tuple[str, ...]]]:
    by: dict[str, list[tuple[str, ...]]] = {}
    for symbol, type_, data in rows:
        if type_ in ("PositionClosed", "LegClosed"):
            by.setdefault(symbol, []).append((str(data.get("side") or data.get("leg")),
                                              data["reason"], data["realized_pnl"], data["fees"],
                                              data["net_pnl"]))
    return by


# the volume filter on: live and in paper mode the strategy compares min_volume with the
# ticker's 24 h quote volume; 1,500 (BTC) holds some LTC entries back (its 24 h quote volume is
# ~27-2,350 here), ETH's (~180-21,000) only in the first hours
ONE_WAY_MIN_VOLUME = ONE_WAY.replace("min_volatility_pct = 0.05",
                                     "min_volatility_pct = 0.05\nmin_volume = 1500")
CONFIGS = {"one_way": ONE_WAY, "one_way_min_volume": ONE_WAY_MIN_VOLUME, "hedge_grid": GRID}


@pytest.mark.parametrize("style", sorted(CONFIGS))
def test_backtest_and_paper_mode_make_the_same_trades(tmp_path: Path, style: str) -> None:
    files = _files(tmp_path)
    config = tmp_path / "bot.toml"
    config.write_text(CONFIGS[style])
    settings = load_settings(config)
    candles = {s: C.load(p) for s, p in files.items()}
    first = candles["ETHBTC/USDT:USDT"].ts[0]
    assert all(c.ts[0] == first and not c.gaps for c in candles.values())

    result = engine.run(settings, candles)
    if style == "one_way_min_volume":  # both replays: skipping points and not
        full = engine.run(settings, candles, skip_quiet=False)
        assert full.recorder.ledger == result.recorder.ledger
    paper_fills, paper_events = run_paper(settings, files, first, 300_000, CANDLES, tmp_path)

    bt_fills: dict[str, list[tuple[str, ...]]] = {}
    for _, symbol, e in result.recorder.ledger:
        bt_fills.setdefault(symbol, []).append(
            ledger_key(e.side, e.amount, e.price, e.fee, e.realized_pnl))
    pp_fills: dict[str, list[tuple[str, ...]]] = {}
    for f in paper_fills:
        pp_fills.setdefault(f.symbol, []).append(
            ledger_key(f.side, f.amount, f.price, f.fee, f.realized_pnl))
    bt_closes = _closes([(s, j.type, j.data) for _, s, j in result.recorder.journal])
    pp_closes = _closes([(e["symbol"], e["type"], e["data"]) for e in paper_events])

    for symbol in SYMBOLS:
        assert len(bt_closes.get(symbol, [])) >= 5, f"{symbol}: too few trades to compare"
        assert bt_fills.get(symbol) == pp_fills.get(symbol), symbol
        assert bt_closes.get(symbol) == pp_closes.get(symbol), symbol
