"""One backtest from settings and candles to the files next to the report; sweep workers."""

from __future__ import annotations

import argparse
import io
import math
import re
from contextlib import nullcontext, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from backtest import charts as chart_files
from backtest import engine, report
from backtest.candles import Candles
from backtest.cli import Snapshot
from backtest.files import private_dir, write_private
from backtest.metrics import equity_curve
from backtest.sweep import rank_value
from backtest.trades import closed_trades
from config.settings import Settings


def _progress_bar(total: int) -> Any:
    """The bar on the terminal's stderr, and none when stderr is not a terminal (found by
    review: drawn on stdout, `bot.py backtest > report.txt` began with the blank line the
    transient bar left behind)."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    console = Console(stderr=True)
    if not console.is_terminal:
        return nullcontext()
    return Progress(TextColumn("backtest"), BarColumn(), MofNCompleteColumn(),
                    TextColumn("{task.fields[rate]} candles/s"), TimeRemainingColumn(),
                    transient=True, console=console)


def run_one(settings: Settings, candles: dict[str, Candles], out: Path, *, charts: bool = True,
            progress: bool = False, journal: Path | None = None,
            overrides: dict[str, Any] | None = None) -> tuple[dict[str, Any], list[Path]]:
    """Run, build the report, write report.txt / report.json (and the charts) into `out`;
    `overrides`: a sweep run's values, written into both reports. The returned report's
    "text" is report.txt with the run's duration (not in the files: they are deterministic)."""
    total = sum(len(c) for c in candles.values())
    bar = _progress_bar(total) if progress else nullcontext()
    with bar as live:
        callback = None
        if live is not None:
            import time

            task = live.add_task("run", total=total, rate="-")
            t0 = time.perf_counter()

            def callback(done: int) -> None:
                rate = done / max(time.perf_counter() - t0, 1e-9)
                live.update(task, completed=done, rate=f"{rate:,.0f}")

        result = engine.run(settings, candles, progress=callback, journal=journal)
    rep = report.build(result, overrides)
    text = report.render(rep)
    private_dir(out)
    paths = [out / "report.txt", out / "report.json"]
    remove_outputs(out, keep={"report.txt", "report.json", *(chart_files.NAMES if charts else ())})
    write_private(paths[0], text.encode())
    write_private(paths[1], report.to_json(rep).encode())
    if charts:
        paths += chart_files.write(out, result, equity_curve(result),
                                   closed_trades(result.recorder))
    if journal is not None:
        paths.append(journal)
    rep["text"] = report.render(rep, seconds=result.elapsed_s)  # what the terminal shows
    return rep, paths


@dataclass(frozen=True, slots=True)
class SweepWorker:
    """Runs one sweep combination in a worker process (picklable: only plain data inside)."""

    config: Path
    raw: dict[str, Any]
    """The config file's tables as the sweep read them at its start (found by review: each
    run read the file when it started, so a config edited during a long sweep silently
    changed the later runs)."""
    args: dict[str, Any]
    out: Path
    charts: bool
    candles: dict[str, Candles] | Snapshot | None = None
    """The candles as the sweep read them at its start (each run uses a symbol's that come
    from the same file; found by review: each run read the files again when it started, so a
    download extending them during a long sweep ran the later runs over other data); by
    symbol, or by symbol and file (`backtest.cli.Snapshot`: a sweep over the data files)."""

    def __call__(self, index: int, overrides: dict[str, Any]) -> dict[str, Any]:
        from backtest import sweep
        from backtest.cli import load_all

        settings = sweep.settings_with(self.config, overrides, self.raw)
        candles = load_all(settings, argparse.Namespace(**self.args), loaded=self.candles)
        folder = self.out / f"run-{index:03d}"
        try:
            rep, _ = run_one(settings, candles, folder, charts=self.charts, overrides=overrides)
        except Exception:  # a report written before the error (the charts failed) is not
            for name in RUN_FILES:  # this failed run's result (best effort: the run's own
                with suppress(OSError):  # error is the one to report)
                    (folder / name).unlink(missing_ok=True)
            raise
        return {"run": index, "overrides": overrides, "summary": rep["summary"],
                "report": str(folder / "report.txt")}


def render_ranking(rows: list[dict[str, Any]], metric: str) -> str:
    from rich.console import Console
    from rich.table import Table

    keys = list(rows[0]["overrides"]) if rows else []
    t = Table(title=f"Sweep ranked by {metric}", title_justify="left")
    for col in ("#", *keys, metric, "trades", "win rate", "net P&L", "max DD %", "Sharpe",
                "folder"):
        t.add_column(col)
    for rank, row in enumerate(rows, start=1):
        s = row["summary"]
        if s is None:  # a run that failed (backtest/sweep.py `failed`): its error instead
            t.add_row(str(rank), *(str(row["overrides"][k]) for k in keys),
                      f"failed: {row['error']}", *["-"] * 5, f"run-{row['run']:03d}")
            continue
        shown = _metric_text(rank_value(s, metric))
        if not s["trades"]:
            shown += " (no trades)"  # ranked after every run with trades
        t.add_row(str(rank), *(str(row["overrides"][k]) for k in keys), shown, str(s["trades"]),
                  "-" if s["win_rate"] is None else f"{s['win_rate'] * 100:.1f} %",
                  f"{float(s['net_pnl']):.4f}", f"{s['max_drawdown_pct']:.2f}",
                  "-" if s["sharpe_daily"] is None else f"{s['sharpe_daily']:.2f}",
                  Path(row["report"]).parent.name)
    out = io.StringIO()
    Console(file=out, width=160, force_terminal=False, color_system=None).print(t)
    return out.getvalue()


def _metric_text(value: float | None) -> str:
    """The ranked metric as the table shows it: every digit of its integer part (found by
    review: four significant digits showed final equities of 10,234.69 and 10,231.12 as the
    same `1.023e+04`, and 12,345 trades as `1.234e+04`), four decimals from 1 up."""
    if value is None:
        return "-"
    if math.isinf(value):
        return "inf (no downside)"
    if value == int(value):
        return f"{value:,.0f}"
    return f"{value:,.4f}" if abs(value) >= 1 else f"{value:.4g}"


RUN_FILES = frozenset({"report.txt", "report.json", *chart_files.NAMES})
"""What a sweep writes into each run-NNN folder, and a single run into its `--out`."""
RUN_FOLDER = re.compile(r"run-\d{3,}")
RANKING = ("ranking.txt", "ranking.json")


def remove_outputs(out: Path, keep: set[str] | frozenset[str] = frozenset()) -> None:
    """Remove the report files (RUN_FILES) an earlier run left in `out` that this run does not
    write, so none is read as this run's (found by review: `--no-charts` left the previous
    run's chart.html and equity.png next to the new report). Only those names; any other file
    stays."""
    for name in sorted(RUN_FILES - keep):
        (out / name).unlink(missing_ok=True)


def clear_earlier_sweep(out: Path) -> None:
    """Remove an earlier sweep's results from `out` (its run-NNN folders and ranking), so a
    second, smaller sweep, or a single run, leaves none of them behind. A run-NNN folder
    holding anything a sweep does not write is not ours to delete: SweepError (one line),
    nothing removed."""
    from backtest.sweep import SweepError

    if not out.is_dir():
        return
    folders = sorted(p for p in out.iterdir() if p.is_dir() and RUN_FOLDER.fullmatch(p.name))
    for folder in folders:
        for item in folder.iterdir():
            temp = item.name.startswith(".") and item.name.endswith(".tmp")  # a killed write
            if not item.is_file() or not (item.name in RUN_FILES or temp):
                raise SweepError(f"--out {out}: {item} is not a sweep's file; move it away or "
                                 "pick another --out (an earlier sweep's runs are replaced)")
    for folder in folders:
        for item in folder.iterdir():
            item.unlink()
        folder.rmdir()
    for name in RANKING:
        (out / name).unlink(missing_ok=True)


def write_ranking(out: Path, rows: list[dict[str, Any]], text: str) -> list[Path]:
    """The ranking table (text) and its rows (JSON, as `--json` prints them) into `out`."""
    private_dir(out)
    paths = [out / name for name in RANKING]
    write_private(paths[0], text.encode())
    write_private(paths[1], report.to_json(rows).encode())
    return paths
