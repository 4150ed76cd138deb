"""logging.max_total_mb: a cap on the whole log folder (observability/log_budget.py). Found by
review: each stream rotated on its own with its own retention, so the folder grew with the
number of symbols (at 500 symbols and the defaults ~59 GiB) and could fill the disk the
database commits to. Past the cap the oldest rotated files go, across every stream; a file
being written never does."""

from __future__ import annotations

import os
from pathlib import Path

from loguru import logger

from observability.log_budget import LogBudget, log_files
from observability.log_streams import LogStreams, setup_logging, symbol_log_path
from tests.observability.log_support import read_lines
from tests.support.waiting import wait_until


def _file(path: Path, size: int, age_s: int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x" * size)
    when = 1_700_000_000 - age_s
    os.utime(path, (when, when))
    return path


def _total(folder: Path) -> int:
    return sum(f.size for f in log_files(folder))


def test_the_oldest_rotated_files_go_first_across_streams_and_accounts(tmp_path: Path):
    logs = tmp_path / "logs"
    live = [_file(logs / "bot.log", 900, 0), _file(logs / "A.log", 900, 0),
            _file(logs / "alpha" / "B.log", 900, 0)]
    oldest = [_file(logs / "A.log.3", 100, 50), _file(logs / "alpha" / "B.log.2", 100, 40),
              _file(logs / "bot.log.5", 100, 30)]
    kept = [_file(logs / "A.log.2", 100, 20), _file(logs / "bot.log.4", 100, 10),
            _file(logs / "alpha" / "B.log.1", 100, 5)]
    other = _file(logs / "notes.txt", 5000, 99)  # not a log file: neither counted nor removed
    said: list[str] = []
    budget = LogBudget(logs, 3 * 900 + 300, report=said.append)
    try:
        assert budget.trim() == oldest
        assert budget.trim() == []  # within the cap now
    finally:
        budget.close()
    assert all(p.exists() for p in live + kept) and other.exists()
    assert not any(p.exists() for p in oldest)
    assert _total(logs) == 3 * 900 + 300
    assert len(said) == 1 and said[0].startswith(
        "log budget: removed 3 rotated log files (300 bytes, oldest first: A.log.3, "
        f"alpha/B.log.2, bot.log.5) to keep {logs} within logging.max_total_mb = ")
    assert said[0].endswith("; the log files take 3000 bytes")


def test_files_being_written_are_never_removed_and_said_once_when_over(tmp_path: Path):
    logs = tmp_path / "logs"
    live = [_file(logs / f"S{i}.log", 1000, 0) for i in range(4)]
    rotated = _file(logs / "S0.log.1", 1000, 10)
    said: list[str] = []
    budget = LogBudget(logs, 2000, report=said.append)
    try:
        assert budget.trim() == [rotated]
        assert budget.trim() == []
    finally:
        budget.close()
    assert all(p.exists() for p in live)
    over = [line for line in said if "being written take" in line]
    assert len(over) == 1 and "lower logging.rotate_mb" in over[0]


def test_the_bot_s_logs_stay_within_the_cap_keeping_the_newest_lines(tmp_path: Path):
    logs, rotate, cap = tmp_path / "logs", 500, 8000
    faults: list[str] = []
    streams = LogStreams(logs, rotate_bytes=rotate, retention=5, max_total_bytes=cap,
                         report=faults.append)
    streams.attach("INFO")
    symbols = [f"S{i}/USDT:USDT" for i in range(10)]
    try:
        for i in range(120):
            for symbol in symbols:
                logger.bind(symbol=symbol).info("line {:04d}", i)
        streams.flush()
        # every rotation has the folder looked at; after the last one, the files being written
        # grow by at most twice the main file's rotation size
        wait_until(lambda: _total(logs) <= cap + 2 * rotate, message="the folder within its cap")
        wait_until(lambda: any("log budget: removed" in line
                               for line in read_lines(logs / "bot.log")),
                   message="the removal said in bot.log")
    finally:
        streams.close()
    assert faults == []  # a rotated file deleted under a rotation is no write fault
    assert len(list(logs.glob("*.log.*"))) < 10 * 5  # without the cap: every stream keeps 5
    for symbol in symbols:  # each stream keeps its newest lines, contiguous up to the last
        path = symbol_log_path(logs, symbol)
        older = sorted(logs.glob(path.name + ".*"), key=lambda p: -int(p.suffix[1:]))
        kept = [int(line.rsplit(" ", 1)[1]) for p in [*older, path] for line in read_lines(p)]
        assert kept and kept == list(range(kept[0], 120)), symbol


def test_no_cap_keeps_every_stream_s_retention(tmp_path: Path):
    logs = tmp_path / "logs"
    streams = setup_logging(logs, console=False, rotate_bytes=300, retention=2)
    try:
        for i in range(60):
            logger.bind(symbol="BTC/USDT:USDT").info("line {:04d}", i)
    finally:
        streams.close()
    assert sorted(p.name for p in logs.glob("*.log.*")) == [
        "BTC_USDT_USDT.log.1", "BTC_USDT_USDT.log.2", "bot.log.1", "bot.log.2"]


def test_a_folder_over_the_cap_at_start_is_trimmed_when_logging_starts(tmp_path: Path):
    logs = tmp_path / "logs"
    old = [_file(logs / f"OLD.log.{i}", 1000, 100 + i) for i in range(1, 6)]
    streams = setup_logging(logs, console=False, rotate_bytes=1000, max_total_bytes=2500)
    try:
        wait_until(lambda: sum(p.exists() for p in old) == 2, message="the oldest three gone")
    finally:
        streams.close()
    assert [p.exists() for p in old] == [True, True, False, False, False]
