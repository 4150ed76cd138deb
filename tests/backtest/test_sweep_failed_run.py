"""A sweep run that raises is listed, not the end of the sweep (found by review: one run's error
stopped every run under way, no ranking was written and the runs not yet started never ran).
The other runs finish and are ranked; the failed run is ranked after them, its one-line error
in the table and in ranking.json; the exit code and one stderr line say that runs failed."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import bot
from backtest import cli, sweep
from backtest.session import SweepWorker, render_ranking
from config.loader import load_settings

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "backtest.toml"


class FailsAt:
    """A sweep worker (picklable: it runs in the sweep's processes) whose run `index` raises."""

    def __init__(self, index: int) -> None:
        self.index = index

    def __call__(self, index: int, overrides: dict[str, Any]) -> dict[str, Any]:
        if index == self.index:
            raise ZeroDivisionError(f"run {index}\nsecond line")
        return {"run": index, "overrides": overrides, "report": f"/o/run-{index:03d}/report.txt",
                "summary": {"trades": 3, "win_rate": 0.5, "net_pnl": index,
                            "max_drawdown_pct": -1.0, "sharpe_daily": 1.0}}


@pytest.mark.parametrize("processes", [1, 2])
def test_one_run_raising_leaves_the_other_runs_finished(processes: int) -> None:
    runs = [{"strategy.entry_z": z} for z in (1.5, 2.0, 2.5, 3.0)]
    rows = sweep.run_all(runs, FailsAt(1), processes)
    assert [r["run"] for r in rows] == [0, 1, 2, 3]
    assert rows[1] == {"run": 1, "overrides": {"strategy.entry_z": 2.0}, "summary": None,
                       "report": None, "error": "ZeroDivisionError: run 1 second line"}
    assert all(r["summary"]["trades"] == 3 for i, r in enumerate(rows) if i != 1)
    ranked = sweep.ranked(rows, "net_pnl")
    assert [r["run"] for r in ranked] == [3, 2, 0, 1]  # the failed run after every other
    lines = [ln for ln in render_ranking(ranked, "net_pnl").splitlines() if "run-" in ln]
    cells = [c.strip() for c in lines[-1].split("│")[1:-1]]
    assert cells == ["4", "2.0", "failed: ZeroDivisionError: run 1 second line", "-", "-", "-",
                     "-", "-", "run-001"]


def test_a_failed_run_s_folder_keeps_no_report_of_it(tmp_path: Path) -> None:
    """The charts failed after report.json was written: that report is not the run's result."""
    config = tmp_path / "bt.toml"
    config.write_text(EXAMPLE.read_text().replace('"data/', f'"{EXAMPLE.parent}/data/').replace(
        'data_dir = "../data/backtest_example"', f'data_dir = "{tmp_path / "state"}"'))
    args = bot.parser().parse_args(["backtest", "--config", str(config), "--to", "2018-01-11",
                                    "--no-progress", "--out", str(tmp_path / "o")])
    candles = cli.load_all(load_settings(config), args)
    worker = SweepWorker(config=config, raw=sweep.read_config(config), args=vars(args),
                         out=tmp_path / "o", charts=True, candles=candles)
    (tmp_path / "o" / "run-000" / "chart.html").mkdir(parents=True)  # the chart cannot be
    rows = sweep.run_all([{"strategy.entry_z": 1.5}], worker, 1)  # written there
    assert rows[0]["error"].startswith("IsADirectoryError: ")
    assert sorted(p.name for p in (tmp_path / "o" / "run-000").iterdir()) == ["chart.html"]


def test_the_cli_ranks_the_runs_that_finished_and_lists_the_failed_one(tmp_path: Path) -> None:
    out = tmp_path / "o"
    out.mkdir()
    (out / "run-001").write_text("not a folder\n")  # run-001 cannot make its report folder
    proc = subprocess.run(
        [sys.executable, "bot.py", "backtest", "--config", str(EXAMPLE), "--to", "2018-01-11",
         "--out", str(out), "--no-charts", "--no-progress", "--processes", "2",
         "--sweep", "strategy.entry_z=1.5,2,2.5"],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 2
    assert proc.stderr == ("bot.py: error: --sweep: 1 of 3 runs failed (run-001); the ranking "
                           "lists each with its error\n")
    rows = json.loads((out / "ranking.json").read_text())
    assert [r["run"] for r in rows][-1] == 1
    assert rows[-1]["error"] == f"FileExistsError: [Errno 17] File exists: '{out / 'run-001'}'"
    assert rows[-1]["summary"] is None and rows[-1]["overrides"] == {"strategy.entry_z": 2}
    for row in rows[:-1]:
        report = json.loads(Path(row["report"]).with_name("report.json").read_text())
        assert report["summary"]["trades"] == row["summary"]["trades"] > 0
    table = (out / "ranking.txt").read_text()
    assert table in proc.stdout and "failed: FileExistsError" in table
    assert "wrote 2 reports under" in proc.stdout
