"""Issue 16 item 11: a log write that fails (disk full) degrades instead of ending the bot: the
line is lost, the fault is reported once naming the file and the reason, and logging resumes."""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
import sys
from pathlib import Path

from loguru import logger

from observability.log_streams import LogStreams
from tests.observability.log_support import LINE

REPO = Path(__file__).resolve().parents[2]

BTC = "BTC/USDT:USDT"


class Disk:
    """os.write with a switchable ENOSPC (the fault a full file system gives)."""

    def __init__(self) -> None:
        self.full = False

    def __call__(self, fd: int, data: memoryview) -> int:
        if self.full:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return os.write(fd, data)


def test_a_full_disk_loses_lines_not_the_bot(tmp_path):
    disk, reports = Disk(), []
    streams = LogStreams(tmp_path / "logs", write=disk, report=reports.append)
    handler = logger.add(streams.emit, format="{message}", level="INFO")
    try:
        logger.bind(symbol=BTC).info("before")
        streams.flush()  # lines reach the disk in batches: write this one before it fills
        disk.full = True
        for i in range(50):
            logger.bind(symbol=BTC).info("lost {}", i)  # must not raise
        logger.bind(symbol=BTC).warning("lost warning")  # written (and lost) in its call
        disk.full = False
        logger.bind(symbol=BTC).info("after")
    finally:
        logger.remove(handler)
        streams.close()
    main, sym = tmp_path / "logs" / "bot.log", tmp_path / "logs" / "BTC_USDT_USDT.log"
    for path in (main, sym):
        text = path.read_text()
        assert "before" in text and "after" in text and "lost" not in text
    failed = [r for r in reports if "cannot be written" in r]
    assert len(failed) == 2  # once per file, not once per line
    assert all("No space left on device" in r for r in failed)
    assert {str(main), str(sym)} == {r.split()[2] for r in failed}
    resumed = [r for r in reports if "written again" in r]
    assert len(resumed) == 2 and all("(51 lines were lost)" in r for r in resumed)


# A file size limit makes the kernel write part of a batch, then refuse the rest (EFBIG), as a
# file system that fills up in the middle of a batch does; raising it is the space freed.
FSIZE_CHILD = """
import resource, signal, sys
from pathlib import Path
from loguru import logger
from observability.log_streams import LogStreams
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG instead of the signal
logger.remove()
reports = []
streams = LogStreams(Path(sys.argv[1]), report=reports.append)
streams.attach("INFO")
_, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
resource.setrlimit(resource.RLIMIT_FSIZE, (1000, hard))
for i in range(30):
    logger.warning("full {} {}", i, "x" * 23)
resource.setrlimit(resource.RLIMIT_FSIZE, (hard, hard))
logger.warning("after the disk has room again")
streams.close()
print(len(reports))
"""


def test_a_line_cut_by_a_full_disk_does_not_swallow_the_next_one(tmp_path):
    """A real partial write (the kernel stops at the file size limit inside a line): the cut
    line stays cut, but the first line written once there is room starts a line of its own."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, "-c", FSIZE_CHILD, str(tmp_path)], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["2"]  # cannot be written, written again
    data = (tmp_path / "bot.log").read_bytes()
    assert 1000 < len(data) and not data[:1000].endswith(b"\n")  # the limit cut a line
    lines = data.decode().splitlines()
    assert lines[-1].count(" | WARNING | ") == 1, lines[-2:]  # not glued to the cut line
    assert LINE.match(lines[-1]).groups() == ("WARNING", "-", "after the disk has room again")
    assert all(LINE.match(line) for line in lines[:-2])


class Clock:
    """The streams' monotonic clock, moved by the test."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_deleted_logs_folder_is_said_once_and_made_again(tmp_path):
    """`rm -r logs` under a running bot: the lines went to deleted files for good (until a
    rotation, which then failed forever). Now the next batch a second later says so once and
    writes every file again where `bot.py logs` reads it."""
    clock, reports = Clock(), []
    logs = tmp_path / "logs"
    streams = LogStreams(logs, report=reports.append, clock=clock)
    streams.attach("INFO")
    try:
        logger.bind(symbol=BTC).warning("before")
        shutil.rmtree(logs)
        logger.bind(symbol=BTC).warning("into the deleted file")
        clock.now += 1.5
        for i in range(3):
            logger.bind(symbol=BTC).warning("after {}", i)
            clock.now += 1.5
    finally:
        streams.close()
    assert len(reports) == 1 and "bot.log was deleted while the bot ran" in reports[0]
    for path in (logs / "bot.log", logs / "BTC_USDT_USDT.log"):
        assert [LINE.match(x).group(3) for x in path.read_text().splitlines()] == [
            "after 0", "after 1", "after 2"]
        assert os.stat(path).st_mode & 0o777 == 0o600
    assert os.stat(logs).st_mode & 0o777 == 0o700


def test_a_deleted_account_folder_or_symbol_file_is_said_once_and_written_again(tmp_path):
    """`rm -r logs/alpha` (or `rm logs/ETH_USDT_USDT.log`) under a running bot, bot.log kept:
    the account's lines went on into the deleted files, unreadable and unsaid, for good. Now
    the next batch a second later says so once per folder and writes the files again."""
    clock, reports = Clock(), []
    logs = tmp_path / "logs"
    eth = "ETH/USDT:USDT"
    streams = LogStreams(logs, report=reports.append, clock=clock)
    streams.attach("INFO")
    alpha, btc = logger.bind(account="alpha"), logger.bind(account="alpha", symbol=BTC)
    try:
        btc.warning("before")
        alpha.warning("before")
        logger.bind(symbol=eth).warning("before")
        shutil.rmtree(logs / "alpha")
        (logs / "ETH_USDT_USDT.log").unlink()
        btc.warning("into the deleted file")
        clock.now += 1.5
        for i in range(3):
            btc.warning("after {}", i)
            alpha.warning("after {}", i)
            logger.bind(symbol=eth).warning("after {}", i)
            clock.now += 1.5
    finally:
        streams.close()
    assert sorted(r.split()[3] for r in reports) == [str(logs), str(logs / "alpha")], reports
    assert all("were deleted while the bot ran" in r for r in reports)
    for path in (logs / "alpha" / "BTC_USDT_USDT.log", logs / "alpha" / "bot.log",
                 logs / "ETH_USDT_USDT.log"):
        assert _messages(path) == ["after 0", "after 1", "after 2"], path
        assert os.stat(path).st_mode & 0o777 == 0o600
    assert os.stat(logs / "alpha").st_mode & 0o777 == 0o700
    bot = _messages(logs / "bot.log")
    assert bot.count("into the deleted file") == 1 and bot.count("after 2") == 3


def _messages(path: Path) -> list[str]:
    return [line.split(" | ", 3)[3] for line in path.read_text().splitlines()]


def test_a_line_left_cut_by_the_process_before_does_not_swallow_the_first_new_one(tmp_path):
    """kill -9 can stop a write to a file between two pages, so the bot that starts next finds
    its log files ending inside a line. Its first line used to be glued to that piece (one line
    in the file, the new one's time and level in the middle of it); it starts a line of its
    own, and a file that ends whole gets no empty line."""
    torn = "2026-12-04T17:37:25.412Z | INFO | - | line 12"
    (tmp_path / "bot.log").write_text(f"{torn}0\n{torn}")  # the second line cut short
    whole = tmp_path / "BTC_USDT_USDT.log"
    whole.write_text(f"{torn}0\n")
    streams = LogStreams(tmp_path)
    streams.attach("INFO")
    try:
        logger.bind(symbol="BTC/USDT:USDT").warning("after the restart")
    finally:
        streams.close()
    lines = (tmp_path / "bot.log").read_text().splitlines()
    assert lines[:2] == [f"{torn}0", torn]
    assert LINE.match(lines[2]).groups() == ("WARNING", "BTC/USDT:USDT", "after the restart")
    lines = whole.read_text().splitlines()
    assert lines[0] == f"{torn}0" and LINE.match(lines[1]) and len(lines) == 2


def test_a_rotation_that_fails_loses_no_line_and_is_said_once(tmp_path):
    """A rename that fails with anything but "not found" (here X.log.1 cannot move onto
    X.log.2, a folder): the file stayed closed and every later batch failed at its rotation,
    all its lines lost though the file could be written. Now they go on in the current file,
    one line says why, and the rotation is tried again at the next batch."""
    logs, reports = tmp_path / "logs", []
    logs.mkdir()
    (logs / "bot.log.1").write_text("older\n")
    (logs / "bot.log.2").mkdir()
    (logs / "bot.log.2" / "keep").write_text("")  # a folder that is not empty
    streams = LogStreams(logs, report=reports.append, rotate_bytes=300, retention=2)
    streams.attach("INFO")
    try:
        for i in range(20):
            logger.info("line {} {}", i, "x" * 40)
            streams.flush()  # one batch each: every one past the size tries to rotate
        text = (logs / "bot.log").read_text()
        assert all(f"line {i} " in text for i in range(20))  # nothing lost
        failed = [r for r in reports if "cannot be rotated" in r]
        assert len(failed) == 1, reports
        assert str(logs / "bot.log") in failed[0] and "Is a directory" in failed[0]
        assert not [r for r in reports if "cannot be written" in r]
        (logs / "bot.log.2" / "keep").unlink()
        (logs / "bot.log.2").rmdir()  # the cause removed: the next batch rotates
        logger.info("after {}", "y" * 40)
        streams.flush()
    finally:
        streams.close()
    assert "line 19 " in (logs / "bot.log.1").read_text()
    assert "after" in (logs / "bot.log").read_text()
    assert reports[-1] == f"log file {logs / 'bot.log'} is rotated again"


def test_a_logs_folder_that_could_not_be_made_again_is_made_at_a_later_batch(tmp_path):
    """`rm -r logs`, and the folder cannot be made again at first (here a file named logs
    is in its place; a full disk does the same): bot.log was left closed, and every later
    batch only tried to open logs/bot.log in a folder nobody made again, so all its lines were
    lost for as long as the bot ran, even once the folder could be made."""
    clock, reports = Clock(), []
    logs = tmp_path / "logs"
    streams = LogStreams(logs, report=reports.append, clock=clock)
    streams.attach("INFO")
    try:
        logger.warning("before")
        shutil.rmtree(logs)
        logs.write_text("")  # in the folder's place: it cannot be made
        clock.now += 1.5
        logger.warning("lost 0")  # the deletion is seen, the folder not made
        clock.now += 1.5
        logs.unlink()  # the cause is gone
        for i in range(3):
            logger.warning("after {}", i)
            clock.now += 1.5
    finally:
        streams.close()
    assert _messages(logs / "bot.log") == ["after 0", "after 1", "after 2"], reports
    assert os.stat(logs).st_mode & 0o777 == 0o700
    assert reports[-1].startswith(f"log file {logs / 'bot.log'} is written again"), reports


def test_the_lines_lost_over_several_batches_are_all_counted(tmp_path):
    """A disk full for longer than one batch: the line that says the file is written again
    counts every line lost since it filled, not only those of the last failed batch."""
    disk, reports = Disk(), []
    streams = LogStreams(tmp_path / "logs", write=disk, report=reports.append,
                         flush_interval_s=3600, max_delay_s=3600)
    streams.attach("INFO")
    try:
        disk.full = True
        for batch in range(3):  # three batches, 1 + 2 + 3 lines
            for i in range(batch + 1):
                logger.bind(symbol=BTC).info("lost {} {}", batch, i)
            streams.flush()
        disk.full = False
        logger.bind(symbol=BTC).warning("after")  # written in its call
    finally:
        streams.close()
    assert len([r for r in reports if "cannot be written" in r]) == 2  # once per file
    resumed = sorted(r for r in reports if "written again" in r)
    assert resumed == [f"log file {tmp_path / 'logs' / name} is written again (6 lines were lost)"
                       for name in ("BTC_USDT_USDT.log", "bot.log")]
