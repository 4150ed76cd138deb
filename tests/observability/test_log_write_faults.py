"""Issue 16 item 11: a log write that fails (disk full) degrades instead of ending the bot: the
line is lost, the fault is reported once naming the file and the reason, and logging resumes."""

from __future__ import annotations

import errno
import os

from loguru import logger

from observability.log_streams import LogStreams

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
