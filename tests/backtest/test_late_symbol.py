"""A symbol whose data starts later than the others' is not traded before its data starts.

Found by review (a user's 1h run of the hedge grid on two symbols, the second listed five days
after the first, `--allow-gaps`): every loop was started at the first candle of the whole run,
so the grid opened the late symbol's two legs then, 5 days before its first candle, at the
price of that first candle. The report's trades said those legs were opened at the run's
start, the average hold and the exposure counted the five days, and the account paid the entry
fees days before the symbol had a price."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from backtest import candles as C
from backtest import engine, metrics, report
from config.loader import load_settings

HOUR = 3_600_000
T0 = 1_700_000_000_000 - 1_700_000_000_000 % (24 * HOUR)
EARLY, LATE = "AAA/USDT:USDT", "BBB/USDT:USDT"


def _grid_two_symbols(tmp: Path, late_start_h: int) -> engine.RunResult:
    for name, start, price in (("a", 0, 100), ("b", late_start_h, 50)):
        lines = ["timestamp,open,high,low,close,volume"]
        lines += [f"{T0 + h * HOUR},{price},{price},{price},{price},10"
                  for h in range(start, 8)]
        (tmp / f"{name}.csv").write_text("\n".join(lines) + "\n")
    (tmp / "bot.toml").write_text(
        f'[exchange]\nhedge_mode = true\n[symbols]\nlist = ["{EARLY}", "{LATE}"]\n'
        '[strategy]\nname = "hedge_grid"\n[strategy.grid]\nlevels = 1\nstep_pct = 1\n'
        "take_profit_pct = 0.5\nrecalc_pct = 2\n"
        "[paper]\nslippage_bps = 0\ntaker_fee = 0.00055\n"
        "[risk]\norder_size_usdt = 100\nstop_loss_pct = 3.0\n")
    candles = {EARLY: C.load(tmp / "a.csv", timeframe_ms=HOUR),
               LATE: C.load(tmp / "b.csv", timeframe_ms=HOUR)}
    return engine.run(load_settings(tmp / "bot.toml"), candles)


def test_a_late_symbols_grid_opens_when_its_data_starts(tmp_path: Path) -> None:
    result = _grid_two_symbols(tmp_path, late_start_h=5)
    late_start = T0 + 5 * HOUR
    fills = [(f.trade.symbol, f.trade.ts, f.trade.price) for f in result.exchange.fills]
    assert fills == [(EARLY, T0 - 1, Decimal("100.00")), (EARLY, T0 - 1, Decimal("100.00")),
                     (LATE, late_start - 1, Decimal("50.000")),
                     (LATE, late_start - 1, Decimal("50.000"))]
    opened = [(sym, now) for now, sym, j in result.recorder.journal if j.type == "LegOpened"]
    assert opened == [(EARLY, (T0 - 1) / 1000)] * 2 + [(LATE, (late_start - 1) / 1000)] * 2
    # the fills' times are in order: the equity curve looks fills up by time
    assert [f.trade.ts for f in result.exchange.fills] == sorted(
        f.trade.ts for f in result.exchange.fills)
    # flat prices: the equity changes only by the entry fees (0.055 each, 100 USDT a leg):
    # the early legs' from the start, the late legs' from the late symbol's first candle
    eq = metrics.equity_curve(result)
    before = eq.ts_ms <= late_start - 1
    assert set(eq.equity[1:][before[1:]]) == {float(Decimal("9999.89"))}
    assert set(eq.equity[~before]) == {float(Decimal("9999.78"))}
    assert report.build(result)["summary"]["final_equity"] == Decimal("9999.78")
