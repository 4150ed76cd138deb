"""`--json`, report.json and ranking.json write every Decimal in plain decimal notation (found by
review: str(Decimal) gave "0E-8" for an open P&L of zero, "1E-8" or "4E+1" for other figures,
and plain text for the rest, so a program reading the report got number text of two kinds)."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

import bot
from backtest import report
from backtest.trades import Trade
from runtime import cli

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "backtest.toml"
PLAIN = re.compile(r"-?[0-9]+(\.[0-9]+)?")
SCIENTIFIC = re.compile(r"-?[0-9.]+[eE][-+]?[0-9]+")


@pytest.mark.parametrize("value, text", [
    ("1E-8", "0.00000001"), ("0E-8", "0.00000000"), ("-0E-8", "0.00000000"), ("4E+1", "40"),
    ("1.5E-7", "0.00000015"), ("-2.50", "-2.50"), ("10234.69", "10234.69"), ("0", "0"),
])
def test_a_decimal_is_written_in_plain_notation_with_its_digits(value: str, text: str) -> None:
    assert json.loads(report.to_json({"v": Decimal(value)}))["v"] == text
    assert Decimal(text) == Decimal(value)


def test_a_trade_s_figures_are_plain_text() -> None:
    trade = Trade(symbol="A/USDT:USDT", position_id="p", side="long", opened_at=0.0,
                  closed_at=60.0, contracts=Decimal("4E+1"), entry_price=Decimal("1E-7"),
                  exit_price=Decimal("1.5E-7"), gross=Decimal("0.000002"),
                  fees=Decimal("1E-8"), net=Decimal("0.00000199"), reason="take_profit")
    d = trade.as_dict()
    assert (d["contracts"], d["entry_price"], d["exit_price"], d["fees"]) == (
        "40", "0.0000001", "0.00000015", "0.00000001")


def _strings(node: Any) -> list[str]:
    if isinstance(node, dict):
        return [s for v in node.values() for s in _strings(v)]
    if isinstance(node, list):
        return [s for v in node for s in _strings(v)]
    return [node] if isinstance(node, str) else []


def test_json_output_of_a_run_and_a_sweep_has_no_scientific_notation(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A short run of the shipped example closes every position: its open P&L, zero to 1e-8,
    was "0E-8"."""
    def run(*argv: str) -> Any:
        code = cli.dispatch(bot.parser().parse_args(
            ["backtest", "--config", str(EXAMPLE), "--to", "2018-01-11", "--no-charts",
             "--no-progress", "--json", *argv]))
        out, err = capsys.readouterr()
        assert code == 0, err
        return json.loads(out)

    single = run("--out", str(tmp_path / "one"))
    assert single["summary"]["open_at_end"] == 0 and single["trades"]
    assert single["summary"]["open_pnl"] == "0.00000000"
    for key in ("net_pnl", "fees", "final_equity", "max_drawdown", "open_pnl"):
        assert PLAIN.fullmatch(single["summary"][key]), (key, single["summary"][key])
    for trade in single["trades"]:
        for key in ("contracts", "entry_price", "exit_price", "gross_pnl", "fees", "net_pnl"):
            assert PLAIN.fullmatch(trade[key]), (key, trade[key])
    assert not [s for s in _strings(single) if SCIENTIFIC.fullmatch(s)]
    assert json.loads((tmp_path / "one" / "report.json").read_text()) == single

    rows = run("--out", str(tmp_path / "sweep"), "--sweep", "strategy.entry_z=1.5,2.5",
               "--processes", "1")
    assert len(rows) == 2 and rows[0]["summary"]["open_pnl"] == "0.00000000"
    assert not [s for r in rows for s in _strings(r["summary"]) if SCIENTIFIC.fullmatch(s)]
    assert json.loads((tmp_path / "sweep" / "ranking.json").read_text()) == rows


def test_ratios_are_json_numbers(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """README (Options): ratios (win rate, drawdown %, Sharpe, ...) are JSON numbers. Found by a
    new user's walk through the README: the profit factor, a ratio, came out as 28 digits of
    Decimal text ("3.162703496534043230420317973"), so `jq '.summary.profit_factor > 2'`
    compared a string."""
    code = cli.dispatch(bot.parser().parse_args(
        ["backtest", "--config", str(EXAMPLE), "--to", "2018-01-12", "--no-charts",
         "--no-progress", "--json", "--out", str(tmp_path)]))
    out, err = capsys.readouterr()
    assert code == 0, err
    summary = json.loads(out)["summary"]
    ratios = ("win_rate", "max_drawdown_pct", "sharpe_daily", "profit_factor", "exposure_pct")
    assert all(summary[key] is not None for key in ratios), summary
    assert {key: type(summary[key]) for key in ratios} == dict.fromkeys(ratios, float)
