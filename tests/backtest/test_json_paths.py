"""`--json` keeps stdout to the JSON and tells the files it wrote on stderr (found by review:
with `--json` the report and chart paths were printed nowhere, so `bot.py backtest --json >
r.json` wrote chart.html and equity.png without saying where; the issue asks for the path
printed at the end)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import bot
from runtime import cli

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "backtest.toml"


def _bt(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.dispatch(bot.parser().parse_args(["backtest", "--config", str(EXAMPLE), *argv]))
    out, err = capsys.readouterr()
    return code, out, err


def test_a_json_run_names_its_files_on_stderr(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    out_dir = tmp_path / "o"
    code, out, err = _bt(capsys, "--to", "2018-01-11", "--json", "--no-progress",
                         "--out", str(out_dir))
    assert code == 0, err
    assert json.loads(out)["summary"]["trades"] >= 0  # stdout is the JSON alone
    assert err.splitlines() == [f"wrote {out_dir / name}" for name in
                                ("report.txt", "report.json", "chart.html", "equity.png")]


def test_a_json_sweep_names_its_files_on_stderr(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    out_dir = tmp_path / "o"
    code, out, err = _bt(capsys, "--to", "2018-01-11", "--json", "--no-progress", "--no-charts",
                         "--sweep", "strategy.entry_z=1.5,2.5", "--processes", "1",
                         "--out", str(out_dir))
    assert code == 0, err
    assert len(json.loads(out)) == 2
    assert err.splitlines() == [f"wrote 2 reports under {out_dir}",
                                f"wrote {out_dir / 'ranking.txt'}",
                                f"wrote {out_dir / 'ranking.json'}"]
