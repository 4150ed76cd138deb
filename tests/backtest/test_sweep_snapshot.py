"""A sweep's runs read the candles the sweep read at its start, as they read its config: found by
review, each run read the data files again when it started, so a download extending a file
(or any other change) while a long sweep ran put the later runs on other data than the
earlier ones, and the ranking compared runs over different candles."""

from __future__ import annotations

import json
from pathlib import Path

import bot
from backtest import cli, sweep
from backtest.session import SweepWorker
from config.loader import load_settings

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "backtest.toml"
ETH = "ETHBTC/USDT:USDT"


def test_every_run_of_a_sweep_uses_the_candles_as_the_sweep_read_them(tmp_path: Path) -> None:
    data = tmp_path / "candles"
    data.mkdir()
    for name in ("ETHBTC_USDT_USDT-5m.csv", "LTCBTC_USDT_USDT-5m.csv"):
        (data / name).write_bytes((EXAMPLE.parent / "data" / name).read_bytes())
    config = tmp_path / "bt.toml"
    text = EXAMPLE.read_text().replace('"data/', f'"{EXAMPLE.parent}/data/')
    config.write_text(text.replace('data_dir = "../data/backtest_example"',
                                   f'data_dir = "{tmp_path / "state"}"'))
    args = bot.parser().parse_args(["backtest", "--config", str(config), "--data", str(data),
                                    "--timeframe", "5m", "--to", "2018-01-12", "--no-charts",
                                    "--no-progress", "--out", str(tmp_path / "o")])
    candles = cli.load_all(load_settings(config), args)  # the sweep's read, at its start
    worker = SweepWorker(config=config, raw=sweep.read_config(config), args=vars(args),
                         out=tmp_path / "o", charts=False, candles=candles)
    before = worker(0, {"strategy.entry_z": 1.5})
    eth = data / "ETHBTC_USDT_USDT-5m.csv"  # rewritten mid-sweep: its first 300 candles only
    eth.write_text("\n".join(eth.read_text().splitlines()[:301]) + "\n")
    after = worker(1, {"strategy.entry_z": 1.5})
    assert before["summary"]["trades"] > 10
    assert after["summary"] == before["summary"]
    reports = [json.loads(Path(r["report"]).with_name("report.json").read_text())
               for r in (before, after)]
    assert reports[1]["data"] == reports[0]["data"]
    assert reports[0]["data"][ETH]["candles"] == len(candles[ETH]) > 300


def test_a_sweep_over_data_files_runs_each_file_as_the_sweep_read_it(tmp_path: Path) -> None:
    """`--sweep paper.csv_files=...` gives one symbol a file per run: the sweep read and checked
    each run's file at its start, then kept only the first run's candles for the symbol, so
    every other run read its file again when it started (a file edited while the sweep ran
    changed that run, as the test above once found for every file)."""
    src = EXAMPLE.parent / "data"
    eth_a, eth_b, ltc = tmp_path / "a.csv", tmp_path / "b.csv", tmp_path / "ltc.csv"
    eth_a.write_bytes((src / "ETHBTC_USDT_USDT-5m.csv").read_bytes())
    eth_b.write_bytes(eth_a.read_bytes())
    ltc.write_bytes((src / "LTCBTC_USDT_USDT-5m.csv").read_bytes())
    config = tmp_path / "bt.toml"
    files = [f'{{"{ETH}"="{eth}","LTCBTC/USDT:USDT"="{ltc}"}}' for eth in (eth_a, eth_b)]
    text = EXAMPLE.read_text().replace('data_dir = "../data/backtest_example"',
                                       f'data_dir = "{tmp_path / "state"}"')
    config.write_text(text[:text.index("csv_files")] + f"csv_files = {files[0]}\n")
    args = bot.parser().parse_args([
        "backtest", "--config", str(config), "--to", "2018-01-12", "--no-charts",
        "--no-progress", "--out", str(tmp_path / "o"), "--sweep",
        f"paper.csv_files={','.join(files)}"])
    runs, raw, candles = cli._sweep_runs(args, config, cli.load_all(load_settings(config), args))
    worker = SweepWorker(config=config, raw=raw, args=vars(args), out=tmp_path / "o",
                         charts=False, candles=candles)
    first = worker(0, runs[0])
    eth_b.write_text("\n".join(eth_b.read_text().splitlines()[:301]) + "\n")  # mid-sweep
    second = worker(1, runs[1])
    assert first["summary"]["trades"] > 10
    assert second["summary"] == first["summary"]
    data = json.loads(Path(second["report"]).with_name("report.json").read_text())["data"]
    assert data[ETH]["file"] == str(eth_b) and data[ETH]["candles"] > 300
