"""A sweep over `symbols.list` reads every run's candle files at its start."""

from __future__ import annotations

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
    assert "LTCBTC_USDT_USDT-5m.csv: 1 gaps (line 201: 30 candles missing" in err
    assert not out.exists() or not list(out.iterdir())  # no run ran
