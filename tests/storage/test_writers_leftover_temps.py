"""Temp files a `kill -9` between a write and its rename leaves: the status file's were removed
at the next start (tests/runtime/test_status_leftover_temps.py), the other atomic writers' never:
the markets cache's, `venue_blocks.json`'s, `workers-config.toml`'s and the backtest reports'
piled up in the data dir (or `--out`) with every crash. Now each writer removes its own file's
leftovers when it starts: only its own temp name, only a gone process's (a live process's may be
about to be renamed), never another file.

Real files; a gone process is a real child that exited. The markets cache and the venue blocks
in this process as the bot's start builds them; the workers' config copy by a real `python
bot.py run --workers 2`; the backtest's by `bot.py backtest` (runtime/cli.py `dispatch`)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

import bot
from exchange.ccxt import markets_cache
from exchange.venue_blocks import FILE, VenueBlocks
from runtime import cli
from runtime.workers import CONFIG_COPY
from tests.e2e.bot_process import start_bot
from tests.e2e.test_workers import write_accounts_config

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "backtest.toml"


def gone_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def plant(folder: Path, name: str, tail: Callable[[int], str]) -> tuple[list[str], list[str]]:
    """Leftovers of `name` by a gone process (to go), and files that must stay: a live
    process's temp of it, another file's temp, names not of our pattern."""
    folder.mkdir(parents=True, exist_ok=True)
    gone = gone_pid()
    leftover = [f".{name}.{gone}.{tail(1)}.tmp", f".{name}.{gone}.{tail(2)}.tmp"]
    kept = [f".{name}.{os.getppid()}.{tail(3)}.tmp",  # a live process's: may be in flight
            f".other.json.{gone}.{tail(4)}.tmp", f"{name}.tmp", "notes.tmp"]
    for n in leftover + kept:
        (folder / n).write_text("{")
    return leftover, kept


def atomic_tail(n: int) -> str:
    return f"{140 + n}.{n}"  # storage/atomic_file.py: <thread>.<n>


def names(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir()}


def test_the_markets_cache_removes_its_leftovers_when_it_loads(tmp_path: Path) -> None:
    path = tmp_path / "markets-binanceusdm.json"
    leftover, kept = plant(tmp_path, path.name, atomic_tail)
    precision = {"amount": 0.001, "price": 0.1}
    markets = {"BTC/USDT:USDT": {"symbol": "BTC/USDT:USDT", "precision": precision}}
    got = markets_cache.load_or_fetch(path, "binanceusdm", lambda: markets, max_age_s=60,
                                      now_ms=lambda: 1_000)
    assert got == markets
    assert names(tmp_path) == {*kept, path.name}, sorted(names(tmp_path))


def test_the_venue_blocks_file_removes_its_leftovers_at_start(tmp_path: Path) -> None:
    leftover, kept = plant(tmp_path, FILE, atomic_tail)
    blocks = VenueBlocks(tmp_path / FILE, wall=lambda: 1_000.0)
    assert names(tmp_path) == set(kept), sorted(names(tmp_path))
    blocks.note("binanceusdm", "", 40.0)
    assert blocks.remaining("binanceusdm", "") == 40.0


@pytest.mark.slow
def test_run_with_workers_removes_its_config_copys_leftovers(tmp_path: Path) -> None:
    config = write_accounts_config(tmp_path / "bot.toml")
    data = tmp_path / "data"
    leftover, kept = plant(data, CONFIG_COPY, atomic_tail)
    proc = start_bot(config, data, "--workers", "2", "--duration", "1")
    try:
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err[-2000:]
    assert not set(leftover) & names(data), sorted(names(data))
    assert set(kept) <= names(data) and CONFIG_COPY in names(data)


def test_a_backtest_removes_its_reports_leftovers(capsys: pytest.CaptureFixture[str],
                                                   tmp_path: Path) -> None:
    leftover, kept = plant(tmp_path, "report.json", lambda n: f"{n:016x}")  # backtest/files.py
    more, _ = plant(tmp_path, "ranking.txt", lambda n: f"{n:016x}")
    code = cli.dispatch(bot.parser().parse_args(
        ["backtest", "--config", str(EXAMPLE), "--to", "2018-01-11", "--no-progress",
         "--no-charts", "--out", str(tmp_path)]))
    _, err = capsys.readouterr()
    assert code == 0, err
    assert not set(leftover + more) & names(tmp_path), sorted(names(tmp_path))
    assert set(kept) <= names(tmp_path)


def test_the_candle_cache_removes_its_leftovers_when_it_loads(tmp_path: Path) -> None:
    """The parsed-candle cache (backtest/candle_cache.py), written beside the user's CSV file:
    a backtest killed while writing it (many MB for a large file) left its temp file there."""
    from backtest import candles

    csv = tmp_path / "x.csv"
    csv.write_text(",".join(candles.HEADER) + "\n1600000000000,10,11,9,10.5,1.5\n"
                   "1600000060000,10,11,9,10,0\n")
    leftover, kept = plant(tmp_path, f".{csv.name}.parsed", lambda n: f"{n:016x}")
    assert len(candles.load(csv).ts) == 2
    assert names(tmp_path) == {*kept, csv.name, f".{csv.name}.parsed"}, sorted(names(tmp_path))


def test_a_download_removes_its_part_copys_leftovers(tmp_path: Path) -> None:
    """`bot.py download` extending a finished file copies it into its part file atomically
    (backtest/download.py `_open_part`); a download killed during that copy (the whole file)
    left its temp file beside the user's data."""
    from backtest.download import download_symbol
    from tests.backtest.test_download import MINUTE, START, MinuteVenue

    venue = MinuteVenue(now_ms=START + 1_000 * MINUTE)
    path, _ = download_symbol(venue, "BTC/USDT:USDT", "1m", START, START + 100 * MINUTE,
                              tmp_path, now_ms=lambda: venue.now_ms, sleep=lambda s: None)
    leftover, kept = plant(tmp_path, f"{path.name}.part", lambda n: f"{n:016x}")
    download_symbol(venue, "BTC/USDT:USDT", "1m", START, START + 200 * MINUTE, tmp_path,
                    now_ms=lambda: venue.now_ms, sleep=lambda s: None)
    assert not set(leftover) & names(tmp_path), sorted(names(tmp_path))
    assert set(kept) <= names(tmp_path)
