"""Sweep ranking by a metric that has no downside to divide by. Sortino (no losing day) and
profit factor (no losing trade) are None in a report, but such a run is the best, not the
worst: found by review, the shipped example's sweep over entry_z ranked its best-Sharpe run
last by Sortino. The ranking table shows the metric it ranks by. A run with no trades ranks
after every run with trades, whatever the metric, and says so in the table."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

import bot
from backtest.args import RANKABLE
from backtest.session import render_ranking
from backtest.sweep import ranked
from runtime import cli

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "backtest.toml"


def row(name: str, **summary: object) -> dict:
    base = {"trades": 10, "win_rate": 0.5, "net_pnl": Decimal("1"), "max_drawdown_pct": -1.0,
            "sharpe_daily": 1.0, "sortino_daily": 1.0, "profit_factor": 1.5}
    return {"overrides": {"strategy.entry_z": name}, "summary": {**base, **summary},
            "report": f"/out/run-{name}/report.txt"}


def names(rows: list[dict]) -> list[str]:
    return [r["overrides"]["strategy.entry_z"] for r in rows]


def test_no_losing_day_ranks_first_by_sortino_and_undefined_ranks_last():
    rows = [row("a", sortino_daily=1129.0), row("b", sortino_daily=None, sharpe_daily=37.1),
            row("c", sortino_daily=83.0),
            row("d", sortino_daily=None, sharpe_daily=None, trades=0, net_pnl=Decimal(0))]
    assert names(ranked(rows, "sortino_daily")) == ["b", "a", "c", "d"]


def test_no_losing_trade_ranks_first_by_profit_factor_unless_it_lost_money():
    rows = [row("a", profit_factor=1.2), row("b", profit_factor=None),
            row("c", profit_factor=0.4), row("d", profit_factor=None, trades=0,
                                              net_pnl=Decimal(0))]
    assert names(ranked(rows, "profit_factor")) == ["b", "a", "c", "d"]


def test_the_table_shows_the_ranked_metric():
    rows = ranked([row("a", sortino_daily=2.5), row("b", sortino_daily=None, sharpe_daily=3.0)],
                  "sortino_daily")
    text = render_ranking(rows, "sortino_daily")
    lines = [line for line in text.splitlines() if "run-" in line]
    assert "inf (no downside)" in lines[0] and "2.5" in lines[1]


def test_a_sweep_over_a_protection_runs_it_and_reports_its_trips(tmp_path):
    # found by review: [protections] was ignored by the backtest (the same trades with and
    # without a stop-loss guard); now each sweep run judges its own protections
    import json
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    out = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, "bot.py", "backtest", "--config", "examples/backtest.toml",
         "--to", "2018-01-13", "--out", str(out), "--no-charts", "--no-progress",
         "--sweep", "protections.stoploss_guard_count=0,1", "--processes", "1"],
        cwd=root, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    reports = {}
    for run in sorted(out.glob("run-*")):
        report = json.loads((run / "report.json").read_text())
        reports[report["overrides"]["protections.stoploss_guard_count"]] = (
            report, (run / "report.txt").read_text())
    plain, guarded = reports[0], reports[1]
    assert "protections" not in plain[0] and "protections (" not in plain[1]
    assert "not_simulated" not in guarded[0] and "not simulated" not in guarded[1]
    trips = guarded[0]["protections"]["trips"]
    assert trips and {t["protection"] for t in trips} == {"stoploss_guard"}
    assert (f"protections (protections.stoploss_guard_count): {len(trips):,} trips"
            in guarded[1])
    assert guarded[0]["summary"]["trades"] < plain[0]["summary"]["trades"]


@pytest.mark.parametrize("metric", RANKABLE)
def test_a_run_with_no_trades_ranks_after_every_run_with_trades(metric: str) -> None:
    # found by review: ranked by drawdown, a run that never traded (drawdown 0) ranked first;
    # here the runs without trades have the best value of every metric, or none
    best = {"net_pnl": Decimal(5), "win_rate": None, "sharpe_daily": 99.0, "sortino_daily": None,
            "profit_factor": None, "max_drawdown": 0.0, "max_drawdown_pct": 0.0,
            "final_equity": 10_005.0}
    rows = [row("idle", trades=0, **best), row("a", max_drawdown=-2.0, final_equity=9_000.0),
            row("b", trades=12, net_pnl=Decimal(2), max_drawdown=-1.0, final_equity=9_500.0,
                max_drawdown_pct=-0.5, sharpe_daily=2.0, sortino_daily=3.0, win_rate=0.6,
                profit_factor=2.0),
            row("idle2", trades=0, **{**best, "net_pnl": Decimal(0), "sharpe_daily": None})]
    assert names(ranked(rows, metric)) == ["b", "a", "idle", "idle2"]


@pytest.mark.parametrize(("metric", "undefined"), [
    ("profit_factor", {"profit_factor": None, "net_pnl": Decimal(0)}),  # wins and losses of 0
    ("sharpe_daily", {"sharpe_daily": None}),  # one day, or no variation
    ("sortino_daily", {"sortino_daily": None, "sharpe_daily": None}),
])
def test_an_undefined_metric_ranks_after_every_defined_one(metric: str,
                                                           undefined: dict) -> None:
    rows = [row("u", **undefined), row("a", **{metric: -5.0}), row("b", **{metric: 0.5})]
    assert names(ranked(rows, metric)) == ["b", "a", "u"]


def test_the_table_marks_a_run_with_no_trades() -> None:
    rows = ranked([row("idle", trades=0, max_drawdown_pct=0.0, net_pnl=Decimal(0)),
                   row("a", max_drawdown_pct=-1.5)], "max_drawdown_pct")
    lines = [line for line in render_ranking(rows, "max_drawdown_pct").splitlines()
             if "run-" in line]
    assert "no trades" not in lines[0] and "-1.5" in lines[0]
    assert "0 (no trades)" in lines[1] and "run-idle" in lines[1]


def test_external_signals_a_backtest_cannot_replay_are_said_in_the_report(tmp_path):
    """Found by review: with `[signals] enabled = true` the running bot trades external signals
    as well as the strategy's; a backtest has none, and its report said nothing of them (as
    it once said nothing of [protections], which it now simulates)."""
    from backtest.report import not_simulated
    from config.loader import load_settings

    config = tmp_path / "bot.toml"
    config.write_text('[symbols]\nlist = ["BTC/USDT:USDT"]\n')
    assert not_simulated(load_settings(config)) == []
    config.write_text('[symbols]\nlist = ["BTC/USDT:USDT"]\n[signals]\nenabled = true\n')
    assert not_simulated(load_settings(config)) == [
        "signals.enabled: external signals are not replayed; only the strategy's own signals "
        "trade in a backtest"]


def test_the_table_tells_apart_runs_whose_ranked_values_differ() -> None:
    # found by review: the ranked metric was shown to four significant digits, so final
    # equities of 10,234.69 and 10,231.12 both read `1.023e+04`, and 12,345 trades `1.234e+04`
    rows = ranked([row("a", final_equity=Decimal("10234.69")),
                   row("b", final_equity=Decimal("10231.12"))], "final_equity")
    lines = [line for line in render_ranking(rows, "final_equity").splitlines() if "run-" in line]
    assert "10,234.6900" in lines[0] and "10,231.1200" in lines[1]
    rows = ranked([row("a", trades=12_345), row("b", trades=12_341)], "trades")
    lines = [line for line in render_ranking(rows, "trades").splitlines() if "run-" in line]
    assert "12,345" in lines[0] and "12,341" in lines[1]


@pytest.mark.parametrize("option", [["--rank", "sharpe_daily"], ["--processes", "2"]])
def test_a_sweep_option_without_a_sweep_is_one_line(
        option: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Found by review: `--rank sharpe_daily` or `--processes 2` without `--sweep` were ignored
    without a word (a single run has nothing to rank and runs in this process)."""
    code = cli.dispatch(bot.parser().parse_args(
        ["backtest", "--config", str(EXAMPLE), *option, "--no-charts",
         "--out", str(tmp_path / "out")]))
    out, err = capsys.readouterr()
    assert (code, out) == (2, "") and not (tmp_path / "out").exists()
    assert err == (f"bot.py: error: {option[0]}: only with --sweep (a single run has no "
                   "ranking and runs in this process)\n")
