"""`[protections]` in a backtest (backtest/protections.py), hand-checked: the same checks the
running bot's entry gate asks, judged in market time from the backtest's own ledger.

Market TEST/USDT:USDT as in test_scenarios.py: 1 contract at 100 per entry, stop 1 % below,
no slippage, taker fee 0.055 %, one-hour candles from T0 = 2023-11-14 22:00 UTC (so c2 opens
at 00:00 UTC of the next day). The scripted strategy signals a long entry at every point
while flat; `cooldown_after_loss_s = 0`, so without protections it re-enters at the point
after each stop-out.
"""

from __future__ import annotations

import json
from pathlib import Path

from backtest import candles as C
from backtest import engine, report
from config.loader import load_settings
from tests.backtest.test_scenarios import EnterAt

HOUR = 3_600_000
T0 = 1_700_000_000_000 - 1_700_000_000_000 % HOUR
SYMBOL = "TEST/USDT:USDT"
Q = HOUR // 4


def _run(tmp: Path, rows: list[tuple[float, float, float, float]], protections: str):
    lines = ["timestamp,open,high,low,close,volume"]
    lines += [f"{T0 + i * HOUR},{o},{h},{lo},{c},10" for i, (o, h, lo, c) in enumerate(rows)]
    (tmp / "t.csv").write_text("\n".join(lines) + "\n")
    (tmp / "bot.toml").write_text(
        f'[symbols]\nlist = ["{SYMBOL}"]\n[paper]\nslippage_bps = 0\ntaker_fee = 0.00055\n'
        "[risk]\norder_size_usdt = 100\nstop_loss_pct = 1.0\ntrailing_activation_pct = 5\n"
        f"cooldown_after_loss_s = 0\n[protections]\n{protections}\n")
    settings = load_settings(tmp / "bot.toml")
    return engine.run(settings, {SYMBOL: C.load(tmp / "t.csv")},
                      strategy_for=lambda symbol: EnterAt(always=True))


def _opened(result) -> list[float]:
    return [now for now, _, j in result.recorder.journal if j.type == "PositionOpened"]


def _tripped(result) -> list[tuple[float, str, str]]:
    return [(now, symbol, j.data["protection"]) for now, symbol, j in result.recorder.journal
            if j.type == "ProtectionTripped"]


FLAT = (100, 100, 100, 100)


def test_without_protections_every_stop_out_is_followed_by_an_entry(tmp_path: Path) -> None:
    # the control for the tests below: the same candles, no [protections]
    result = _run(tmp_path, [FLAT, (97, 97, 97, 97), (95, 95, 95, 95), (95, 95, 95, 95)], "")
    assert _opened(result) == [T0 / 1000, (T0 + HOUR + Q) / 1000, (T0 + 2 * HOUR + Q) / 1000]
    assert result.protections is None and "protections" not in report.build(result)


def test_the_stoploss_guard_pauses_the_symbol_after_two_stop_outs(tmp_path: Path) -> None:
    # stop-outs at c1's open (97) and c2's open (95): the second trips the guard (2 within the
    # hour... the window is 1 day here); entries pause for 3 h after the last stop-out, to c5's
    # open, where the next entry is taken (a pause ends at `until`, not after it)
    rows = [FLAT, (97, 97, 97, 97), (95, 95, 95, 95)] + [(95, 95, 95, 95)] * 4
    result = _run(tmp_path, rows, "stoploss_guard_count = 2\nstoploss_guard_window_s = 86400\n"
                                  "stoploss_guard_pause_s = 10800")
    assert _opened(result) == [T0 / 1000, (T0 + HOUR + Q) / 1000, (T0 + 5 * HOUR) / 1000]
    # judged right after the point that booked the stop-out (its fill comes after its tick)
    assert _tripped(result) == [((T0 + 2 * HOUR) / 1000, SYMBOL, "stoploss_guard")]
    refused = [j.data["reason"] for now, _, j in result.recorder.journal
               if j.type == "SignalSkipped" and now == (T0 + 2 * HOUR + Q) / 1000]
    assert refused == ["stoploss_guard: stop-loss guard: 2 stop-outs within 86400s; paused for "
                       "10800s"]
    rep = report.build(result)
    assert rep["protections"] == {
        "configured": ["protections.stoploss_guard_count"],
        "trips": [{"at": (T0 + 2 * HOUR) / 1000, "protection": "stoploss_guard",
                   "symbol": SYMBOL,
                   "reason": "stop-loss guard: 2 stop-outs within 86400s; paused for 10800s"}]}
    assert "not_simulated" not in rep
    text = report.render(rep)
    assert "protections (protections.stoploss_guard_count): 1 trips" in text
    assert ("2023-11-15 00:00 UTC stoploss_guard TEST/USDT:USDT: stop-loss guard: 2 stop-outs "
            "within 86400s; paused for 10800s") in text
    json.loads(report.to_json(rep))  # the JSON report holds it as plain values


def test_the_daily_loss_limit_stops_entries_until_midnight_utc(tmp_path: Path) -> None:
    # the stop-out at c1's open (23:00 UTC) loses 3.10835 USDT, past the 2 USDT limit: no entry
    # for the rest of the day; c2 opens at 00:00 UTC of the next day and enters
    rows = [FLAT, (97, 97, 97, 97), (97, 97, 97, 97)]
    result = _run(tmp_path, rows, "daily_loss_limit_usdt = 2")
    assert _opened(result) == [T0 / 1000, (T0 + 2 * HOUR) / 1000]
    assert _tripped(result) == [((T0 + HOUR) / 1000, "*", "daily_loss_limit")]
    trip = report.build(result)["protections"]["trips"][0]
    assert trip["reason"] == "daily loss limit: -3.11 USDT today (limit -2.00)"


def test_the_max_drawdown_stops_entries_to_the_end(tmp_path: Path) -> None:
    # nobody resets the drawdown limit in a backtest: after the first loss, no entry again
    rows = [FLAT, (97, 97, 97, 97)] + [(97, 97, 97, 97)] * 30
    result = _run(tmp_path, rows, "max_drawdown_usdt = 2")
    assert _opened(result) == [T0 / 1000]
    assert _tripped(result) == [((T0 + HOUR) / 1000, "*", "max_drawdown")]


def test_a_limit_not_reached_never_trips(tmp_path: Path) -> None:
    rows = [FLAT, (97, 97, 97, 97), (97, 97, 97, 97)]
    result = _run(tmp_path, rows, "daily_loss_limit_usdt = 50\nmax_drawdown_usdt = 50")
    assert _opened(result) == [T0 / 1000, (T0 + HOUR + Q) / 1000]
    assert _tripped(result) == []
    assert "never tripped" in report.render(report.build(result))


def test_skipping_changes_no_decision_with_protections_on_the_shipped_data(
        tmp_path: Path) -> None:
    """The protections change only the entry gate, which a point the replay skips never asks:
    the run that skips the points proved quiet makes the very same commits, fills and report
    as the one that loops every point, on both shipped symbols of one account, while the
    protections trip and change what is traded."""
    from tests.backtest.capture import Capture
    from tests.backtest.test_skipping import DATA, SAMPLE, TWO

    guarded = ("[protections]\nstoploss_guard_count = 2\nstoploss_guard_window_s = 7200\n"
               "stoploss_guard_pause_s = 14400\ndaily_loss_limit_usdt = 3\n")
    candles = {s: C.load(DATA / name) for s, name in SAMPLE.items()}
    runs = {}
    for name, extra in (("plain", ""), ("guarded", guarded)):
        config = tmp_path / f"{name}.toml"
        config.write_text(TWO.format(balance=10_000, cap=20) + extra)
        for skip in (True, False):
            capture = Capture()
            result = engine.run(load_settings(config), candles, forward=capture,
                                skip_quiet=skip)
            runs[name, skip] = (result, capture.commits,
                                report.to_json(report.build(result)))
    (fast, fast_commits, fast_report) = runs["guarded", True]
    (slow, slow_commits, slow_report) = runs["guarded", False]
    assert fast_commits == slow_commits and fast_report == slow_report
    assert fast.looped < fast.points // 3 and slow.looped == slow.points
    trips = {t.name for t in fast.protections.trips}
    assert trips == {"stoploss_guard", "daily_loss_limit"}, trips
    plain = runs["plain", True][0]
    assert len(_opened(fast)) < len(_opened(plain))
    refused = [j for _, _, j in fast.recorder.journal if j.type == "SignalSkipped"
               and j.data["reason"].startswith(("stoploss_guard:", "daily_loss_limit:"))]
    assert refused, "no entry was refused by a protection"


GRID = """
[symbols]
list = ["ETHBTC/USDT:USDT", "LTCBTC/USDT:USDT"]
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
order_size_usdt = 100
leverage = 5
stop_loss_pct = 3.0
"""


def test_the_hedge_grid_opens_no_leg_after_the_drawdown_limit_trips(tmp_path: Path) -> None:
    """The grid's leg openings ask the same gate: after the account-wide drawdown trip, no leg
    opens again (its refusals are journaled), and the run trades less than without it."""
    from tests.backtest.test_skipping import DATA, SAMPLE

    candles = {s: C.load(DATA / name) for s, name in SAMPLE.items()}
    results = {}
    for name, extra in (("plain", ""), ("guarded", "[protections]\nmax_drawdown_usdt = 50\n")):
        config = tmp_path / f"{name}.toml"
        config.write_text(GRID + extra)
        results[name] = engine.run(load_settings(config), candles)
    guarded, plain = results["guarded"], results["plain"]
    [trip] = guarded.protections.trips
    assert trip.name == "max_drawdown" and trip.symbol is None
    legs = [now for now, _, j in guarded.recorder.journal if j.type == "LegOpened"]
    assert legs and max(legs) <= trip.at < max(
        now for now, _, j in plain.recorder.journal if j.type == "LegOpened")
    refused = [j for now, _, j in guarded.recorder.journal if j.type == "EntryRefused"
               and now > trip.at]
    assert refused and all("max_drawdown" in j.data["reason"] for j in refused)
