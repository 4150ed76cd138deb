"""A sweep over `symbols.list` reads every run's candle files at its start."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import bot
from runtime import cli

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "examples" / "data"
ETH, LTC = "ETHBTC/USDT:USDT", "LTCBTC/USDT:USDT"


def test_a_symbol_only_a_sweep_value_lists_is_read_and_checked_at_the_start(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Found by review: the sweep read the files of the config's own symbols at its start,
    and a symbol that only a `--sweep symbols.list=...` value lists was read by its run when
    that run started: its bad data (here a gap) stopped the sweep after the runs before it had
    run and written their folders, and a file changed during the sweep changed its runs. It is
    read, and refused, before any run."""
    data = tmp_path / "candles"
    data.mkdir()
    eth = "ETHBTC_USDT_USDT-5m.csv"
    (data / eth).write_bytes((SAMPLES / eth).read_bytes())
    lines = (SAMPLES / "LTCBTC_USDT_USDT-5m.csv").read_text().splitlines()
    (data / "LTCBTC_USDT_USDT-5m.csv").write_text("\n".join(lines[:200] + lines[230:]) + "\n")
    config = tmp_path / "bt.toml"
    config.write_text(f'[bot]\ndata_dir = "{tmp_path / "state"}"\n[symbols]\nlist = ["{ETH}"]\n')
    out = tmp_path / "o"
    code = cli.dispatch(bot.parser().parse_args([
        "backtest", "--config", str(config), "--data", str(data), "--to", "2018-01-12",
        "--no-charts", "--no-progress", "--out", str(out), "--processes", "1",
        "--sweep", f'symbols.list=["{ETH}"],["{LTC}"]']))
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1, err
    assert "LTCBTC_USDT_USDT-5m.csv: 1 gap (line 201: 30 candles missing" in err
    assert not out.exists() or not list(out.iterdir())  # no run ran


def test_a_sweep_says_each_range_note_once(tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    """README: a range wider than a symbol's data gets one `note:` line naming where its data
    ends. Found by review: a sweep said it again for every run (the sweep's own read, then each
    run's), 1 + 3 copies for 3 runs."""
    config = tmp_path / "bt.toml"
    eth = SAMPLES / "ETHBTC_USDT_USDT-5m.csv"
    config.write_text(f'[bot]\ndata_dir = "{tmp_path / "state"}"\n[symbols]\nlist = ["{ETH}"]\n'
                      f'[paper]\ncsv_files = {{ "{ETH}" = "{eth}" }}\n')
    code = cli.dispatch(bot.parser().parse_args([
        "backtest", "--config", str(config), "--from", "2018-01-29T12:00", "--to", "2018-02-01",
        "--no-charts", "--no-progress", "--out", str(tmp_path / "o"), "--processes", "1",
        "--sweep", "strategy.entry_z=1.5,2,2.5"]))
    err = capsys.readouterr().err
    assert code == 0, err
    notes = [line for line in err.splitlines() if line.startswith("bot.py: note: ")]
    assert len(notes) == 1 and "ends at 2018-01-30 04:55, before --to 2018-02-01" in notes[0]


def test_a_sweep_over_symbols_list_runs_on_a_config_naming_files_for_every_symbol(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """README (Backtesting, Options): `symbols.list=[...],[...]` is a sweep of two values. Found
    by review: on a config whose `paper.csv_files` names a file per symbol (the worked example's)
    every run leaving a symbol out was refused before any ran (`paper.csv_files: "..." is not
    in symbols.list`). A run's files are those of its own symbols; the others are not its own."""
    config = tmp_path / "bt.toml"
    files = ", ".join(f'"{s}" = "{SAMPLES / name}"' for s, name in (
        (ETH, "ETHBTC_USDT_USDT-5m.csv"), (LTC, "LTCBTC_USDT_USDT-5m.csv")))
    config.write_text(f'[bot]\ndata_dir = "{tmp_path / "state"}"\n[symbols]\n'
                      f'list = ["{ETH}", "{LTC}"]\n[paper]\nprice_source = "csv"\n'
                      f"csv_files = {{ {files} }}\n")
    code = cli.dispatch(bot.parser().parse_args([
        "backtest", "--config", str(config), "--to", "2018-01-12", "--no-charts",
        "--no-progress", "--out", str(tmp_path / "o"), "--processes", "1", "--json",
        "--sweep", f'symbols.list=["{ETH}","{LTC}"],["{LTC}"]']))
    out, err = capsys.readouterr()
    assert code == 0, err
    rows = json.loads(out)
    assert sorted(r["overrides"]["symbols.list"] for r in rows) == [[ETH, LTC], [LTC]]
    reports = {len(r["overrides"]["symbols.list"]): json.loads(
        (Path(r["report"]).parent / "report.json").read_text()) for r in rows}
    assert sorted(reports[1]["per_symbol"]) == [LTC]
    assert sorted(reports[2]["per_symbol"]) == [ETH, LTC]


def test_a_symbol_that_never_traded_is_in_the_per_symbol_table(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Found by review: the per-symbol table listed only symbols with a closed trade, so a
    configured symbol that never traded (here: a flat market, no signal) could not be told
    from one left out of the run. It is listed with 0 trades and no win rate."""
    data = tmp_path / "data"
    data.mkdir()
    eth = "ETHBTC_USDT_USDT-5m.csv"
    (data / eth).write_bytes((SAMPLES / eth).read_bytes())
    rows = [line.split(",") for line in (SAMPLES / eth).read_text().splitlines()[1:]]
    (data / "LTCBTC_USDT_USDT-5m.csv").write_text(
        "timestamp,open,high,low,close,volume\n"
        + "".join(f"{r[0]},0.015,0.015,0.015,0.015,10\n" for r in rows))
    config = tmp_path / "bt.toml"
    config.write_text(f'[bot]\ndata_dir = "{tmp_path / "state"}"\n[symbols]\n'
                      f'list = ["{ETH}", "{LTC}"]\n')
    code = cli.dispatch(bot.parser().parse_args([
        "backtest", "--config", str(config), "--data", str(data), "--timeframe", "5m",
        "--to", "2018-01-12", "--no-charts", "--no-progress", "--out", str(tmp_path / "o")]))
    out, err = capsys.readouterr()
    assert code == 0, err
    report = json.loads((tmp_path / "o" / "report.json").read_text())
    assert report["per_symbol"][ETH]["trades"] > 0
    assert report["per_symbol"][LTC] == {"trades": 0, "wins": 0, "net_pnl": "0",
                                         "fees": "0", "win_rate": None}
    assert sum(r["trades"] for r in report["per_symbol"].values()) == report["summary"]["trades"]
    text = (tmp_path / "o" / "report.txt").read_text()
    row = next(line for line in text.splitlines() if f"│ {LTC} " in line)
    assert [c.strip() for c in row.split("│")[2:4]] == ["0", "-"], row
