"""Hand-checked scenarios with known answers, through the whole backtest (engine, simulated
exchange, the one-way core), with a scripted strategy injected in place of mean reversion.

Market TEST/USDT:USDT opens at 100: tick 0.01, amount step 0.001 (the paper exchange's derived
steps). No slippage, taker fee 0.055 %, 100 USDT per entry = 1 contract at 100. Candles are
one hour; the path of a candle is O-L-H-C when it closes up, O-H-L-C when it closes down.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

from backtest import candles as C
from backtest import engine, metrics, report
from backtest.trades import closed_trades
from config.loader import load_settings
from trading.events import SignalRaised
from trading.model import Side

HOUR = 3_600_000
T0 = 1_700_000_000_000 - 1_700_000_000_000 % HOUR
SYMBOL = "TEST/USDT:USDT"


class EnterAt:
    """Signals a long entry at the given market times (seconds) while flat."""

    name = "scripted"

    def __init__(self, times: set[float] | None = None, always: bool = False,
                 side: Side = Side.LONG) -> None:
        self.times = times or set()
        self.always = always
        self.side = side

    def on_price(self, price: Decimal, volume: Decimal | None, now: float,
                 position: Side | None) -> SignalRaised | None:
        if position is None and (self.always or now in self.times):
            return SignalRaised(side=self.side, reason="scripted")
        return None


def _run(tmp: Path, rows: list[tuple[float, float, float, float]], risk: str,
         strategy: EnterAt, slippage_bps: str = "0"):
    lines = ["timestamp,open,high,low,close,volume"]
    lines += [f"{T0 + i * HOUR},{o},{h},{lo},{c},10" for i, (o, h, lo, c) in enumerate(rows)]
    (tmp / "t.csv").write_text("\n".join(lines) + "\n")
    (tmp / "bot.toml").write_text(
        f'[symbols]\nlist = ["{SYMBOL}"]\n[paper]\nslippage_bps = {slippage_bps}\n'
        f"taker_fee = 0.00055\n[risk]\norder_size_usdt = 100\nstop_loss_pct = 1.0\n{risk}\n")
    settings = load_settings(tmp / "bot.toml")
    result = engine.run(settings, {SYMBOL: C.load(tmp / "t.csv")},
                        strategy_for=lambda symbol: strategy)
    return result, closed_trades(result.recorder)


def test_a_gap_through_the_stop_fills_at_the_open_not_at_the_stop(tmp_path: Path) -> None:
    # entry at 100 (c0 open); stop 99.00; c1 gaps down and opens at 97
    _, trades = _run(tmp_path, [(100, 100, 100, 100), (97, 98, 96, 97.5)],
                     "trailing_activation_pct = 5", EnterAt({T0 / 1000}))
    [t] = trades
    assert (t.entry_price, t.exit_price, t.reason) == (Decimal(100), Decimal(97), "stop_loss")
    assert t.closed_at == (T0 + HOUR) / 1000  # the open of c1
    assert t.gross == Decimal(-3)
    assert t.fees == Decimal("0.10835")  # 100 * 0.00055 + 97 * 0.00055
    assert t.net == Decimal("-3.10835")


def test_slippage_moves_the_entry_and_the_gap_stop_against_the_trader(tmp_path: Path) -> None:
    # 10 bps: the entry buys at 100 * 1.001 = 100.10; the stop (1 % under the entry fill,
    # 99.10) is gapped through, the sell fills at c1's open less 10 bps, 97 * 0.999 = 96.903,
    # to the tick 96.90. Fees on what was paid: 1 * 100.10 * 0.00055 = 0.0550550 and
    # 1 * 96.90 * 0.00055 = 0.0532950.
    result, trades = _run(tmp_path, [(100, 100, 100, 100), (97, 98, 96, 97.5)],
                          "trailing_activation_pct = 5", EnterAt({T0 / 1000}),
                          slippage_bps="10")
    # each fee on its own fill's price (the sum alone would not tell: fees on the marks, 100
    # and 97, also add up to 0.10835)
    assert [(f.trade.price, f.trade.fee) for f in result.exchange.fills] == [
        (Decimal("100.10"), Decimal("0.05505500")), (Decimal("96.90"), Decimal("0.05329500"))]
    [t] = trades
    assert (t.entry_price, t.exit_price, t.reason) == (Decimal("100.10"), Decimal("96.90"),
                                                       "stop_loss")
    assert t.gross == Decimal("-3.2")
    assert t.fees == Decimal("0.1083500")
    assert t.net == Decimal("-3.3083500")


def test_a_stop_touched_exactly_fires_at_its_price(tmp_path: Path) -> None:
    # stop 99.00; c1 (down: O-H-L-C) reaches exactly 99.00 at its low point and no lower
    _, trades = _run(tmp_path, [(100, 100, 100, 100), (100, 100.5, 99, 99.5)],
                     "trailing_activation_pct = 5", EnterAt({T0 / 1000}))
    [t] = trades
    assert (t.exit_price, t.reason) == (Decimal("99.00"), "stop_loss")
    assert t.closed_at == (T0 + HOUR + 2 * HOUR // 4) / 1000


def test_a_short_stop_touched_exactly_fires_and_an_open_short_is_valued_as_a_short(
        tmp_path: Path) -> None:
    # short 1 at 100, stop 101.00 (a buy trigger above); c1 (up: O-L-H-C) reaches exactly
    # 101.00 at its high point: the stop fires there. A second run whose prices never reach
    # the stop ends with the short open at c1's close 98: final equity 10000 - 0.055 (entry
    # fee) + (100 - 98) = 10001.945.
    risk = "trailing_activation_pct = 5"
    _, [t] = _run(tmp_path, [(100, 100, 100, 100), (100, 101, 99.5, 100.5)], risk,
                  EnterAt({T0 / 1000}, side=Side.SHORT))
    assert (t.exit_price, t.reason) == (Decimal("101.00"), "stop_loss")
    assert t.closed_at == (T0 + HOUR + 2 * HOUR // 4) / 1000
    (tmp_path / "b").mkdir()
    result, trades = _run(tmp_path / "b", [(100, 100, 100, 100), (100, 100.5, 97.5, 98)], risk,
                          EnterAt({T0 / 1000}, side=Side.SHORT))
    assert trades == []
    assert metrics.final_equity(result) == Decimal("10001.945")


def test_a_trailing_stop_ratchets_then_triggers(tmp_path: Path) -> None:
    # activation 100.50, callback 0.3 %: best 102 -> trigger 101.69; best 102.5 -> 102.19;
    # best 103 -> 102.69 (each move >= 0.1 % of the price). c3 falls 102.8 -> 102.0: the
    # exchange stop at 102.69 fires at the first point that crosses it, 102.0.
    result, trades = _run(tmp_path, [(100, 100, 100, 100), (100, 102, 100, 101.9),
                                     (102.5, 103, 102.4, 102.9), (102.8, 102.8, 102.0, 102.1)],
                          "trailing_activation_pct = 0.5\ntrailing_callback_pct = 0.3\n"
                          "trailing_step_pct = 0.1", EnterAt({T0 / 1000}))
    placed = [j.data["stop_price"] for _, _, j in result.recorder.journal if j.type == "StopPlaced"]
    assert placed == ["99.00", "101.69", "102.19", "102.69"]
    [t] = trades
    assert (t.exit_price, t.reason) == (Decimal("102.0"), "trailing_stop")
    assert t.closed_at == (T0 + 3 * HOUR + 2 * HOUR // 4) / 1000  # third point of c3
    assert t.net == Decimal(2) - Decimal("0.1111")


def test_take_profit_and_stop_in_one_candle_follow_the_path(tmp_path: Path) -> None:
    risk = "take_profit_pct = 1.0\ntrailing_activation_pct = 5"
    # down candle: O-H-L-C, the high (take-profit 101.00) comes before the low (stop 99.00)
    _, [t] = _run(tmp_path, [(100, 100, 100, 100), (100, 101.5, 98.5, 99.5)], risk,
                  EnterAt({T0 / 1000}))
    assert (t.exit_price, t.reason) == (Decimal("101.5"), "take_profit")
    # up candle: O-L-H-C, the low comes first: the exchange stop fires at 98.5
    (tmp_path / "b").mkdir()
    _, [t] = _run(tmp_path / "b", [(100, 100, 100, 100), (100, 101.5, 98.5, 100.5)], risk,
                  EnterAt({T0 / 1000}))
    assert (t.exit_price, t.reason) == (Decimal("98.5"), "stop_loss")


def test_a_cooldown_after_a_loss_spans_candles_in_market_time(tmp_path: Path) -> None:
    # loss at c1's open (gap through the stop); cooldown 2 h: every entry signal in c1 and c2
    # is skipped, the next entry is c3's open (exactly 2 h later). The core journals a run of
    # strategy skips of one kind once (trading/decide.py `skip_kind`): at the first of them, the
    # second point of c1 (at its open the position was still open: fills come after the tick).
    result, trades = _run(tmp_path, [(100, 100, 100, 100), (97, 97, 97, 97), (97, 97, 97, 97),
                                     (97, 97, 97, 97)],
                          "trailing_activation_pct = 5\ncooldown_after_loss_s = 7200",
                          EnterAt(always=True))
    opened = [now for now, _, j in result.recorder.journal if j.type == "PositionOpened"]
    assert opened == [T0 / 1000, (T0 + 3 * HOUR) / 1000]
    skipped = [(now, j.data["reason"]) for now, _, j in result.recorder.journal
               if j.type == "SignalSkipped"]
    assert skipped == [((T0 + HOUR + HOUR // 4) / 1000, "cooldown after a losing close for 6300s")]
    assert trades[0].net < 0


def test_a_hole_in_the_data_is_a_hole_in_market_time(tmp_path: Path) -> None:
    # c1 is missing: the candle after c0 starts two hours later. The stop fires at c0's low
    # point (T0 + 30 min); the 1.5 h cooldown ends exactly at T0 + 2 h, so the entry there is
    # taken (were the candles adjacent, the second one would sit at T0 + 1 h).
    lines = ["timestamp,open,high,low,close,volume",
             f"{T0},100,100,98,98,1", f"{T0 + 2 * HOUR},97,97,97,97,1"]
    (tmp_path / "t.csv").write_text("\n".join(lines) + "\n")
    (tmp_path / "bot.toml").write_text(
        f'[symbols]\nlist = ["{SYMBOL}"]\n[paper]\nslippage_bps = 0\n'
        "[risk]\nstop_loss_pct = 1.0\ntrailing_activation_pct = 5\ncooldown_after_loss_s = 5400\n")
    c = C.load(tmp_path / "t.csv", timeframe_ms=HOUR)
    assert [g.line for g in c.gaps] == [3] and c.missing_candles(c.gaps[0]) == 1
    result = engine.run(load_settings(tmp_path / "bot.toml"), {SYMBOL: c},
                        strategy_for=lambda s: EnterAt({T0 / 1000, (T0 + 2 * HOUR) / 1000}))
    opened = [now for now, _, j in result.recorder.journal if j.type == "PositionOpened"]
    assert opened == [T0 / 1000, (T0 + 2 * HOUR) / 1000]


def test_entries_the_exchange_refuses_are_in_the_report_not_a_silent_zero(
        tmp_path: Path) -> None:
    # 100 USDT per entry on a 50 USDT account at leverage 1: every entry is refused
    # (InsufficientFunds). The report must say so, not only "0 trades".
    lines = ["timestamp,open,high,low,close,volume"]
    lines += [f"{T0 + i * HOUR},100,100,100,100,10" for i in range(3)]
    (tmp_path / "t.csv").write_text("\n".join(lines) + "\n")
    (tmp_path / "bot.toml").write_text(
        f'[symbols]\nlist = ["{SYMBOL}"]\n[paper]\nstarting_balance_usdt = 50\n'
        "[risk]\norder_size_usdt = 100\nleverage = 1\n")
    result = engine.run(load_settings(tmp_path / "bot.toml"), {SYMBOL: C.load(tmp_path / "t.csv")},
                        strategy_for=lambda s: EnterAt(always=True))
    rep = report.build(result)
    assert rep["summary"]["trades"] == 0
    assert rep["warnings"]["count"] == len(result.log.lines) > 0
    assert "InsufficientFunds" in rep["warnings"]["first"][0]
    text = report.render(rep)
    [line] = [ln for ln in text.splitlines() if ln.startswith("warnings: ")]
    assert "InsufficientFunds" in line and "free balance is 50.0000 USDT" in line
    assert json.loads(report.to_json(rep))["warnings"]["first"] == rep["warnings"]["first"]
