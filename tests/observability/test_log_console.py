"""The console copy of the log lines (stderr): a console that stops reading (a full pipe, a
paused terminal) holds up neither the logging calls nor the files; what it cannot take is
dropped, counted and reported once it reads again."""

from __future__ import annotations

import os
import re
import select
import threading
import time
from collections.abc import Callable

from loguru import logger

from observability.log_files import ConsoleCopy
from observability.log_streams import LogStreams
from tests.observability.log_support import BTC, read_lines

NOTE = re.compile(r"log console: (\d+) lines were not shown \(the console was not reading\); "
                  r"they are in the log files")


def _read_until(fd: int, done: Callable[[bytes], bool], timeout: float = 10.0) -> bytes:
    """What the pipe gives until ``done`` holds for it, within ``timeout`` s."""
    data, deadline = b"", time.monotonic() + timeout
    while not done(data):
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"timed out reading the console: {data[-200:]!r}"
        if select.select([fd], [], [], remaining)[0]:
            data += os.read(fd, 65536)
    return data


def _accounted(shown: bytes) -> tuple[int, int]:
    """(lines shown or reported dropped, reports), checking that each report's count is the
    gap it stands for: shown lines, then the next lines dropped, then the next shown..."""
    expected = reports = 0
    for line in shown.decode().splitlines():
        note = NOTE.fullmatch(line)
        if note is not None:
            expected += int(note[1])
            reports += 1
        else:
            assert int(line.split()[1]) == expected, line
            expected += 1
    return expected, reports


def test_a_console_that_stops_reading_holds_up_neither_the_loggers_nor_the_files(tmp_path):
    read_fd, write_fd = os.pipe()  # nobody reads it: a paused terminal, `bot.py run | less`
    console = open(write_fd, "w")  # noqa: PTH123, SIM115 - a pipe, not a path
    streams = LogStreams(tmp_path, console=console)
    streams.attach()
    done = threading.Event()

    def actor() -> None:
        log = logger.bind(symbol=BTC)
        for i in range(2000):  # ~200 KB: more than the pipe holds
            log.info("tick {} {}", i, "x" * 60)
        log.warning("stop placed")  # returns once it is in the files
        done.set()

    try:
        threading.Thread(target=actor, daemon=True).start()
        assert done.wait(10), "a logging call waited for the console"
        assert read_lines(streams.path_for(BTC))[-1].endswith("| stop placed")
        assert len(read_lines(streams.main_path)) == 2001
    finally:
        os.close(read_fd)  # a write stuck on the pipe ends (EPIPE)
        streams.close()
        console.close()


def test_the_console_drops_what_it_cannot_queue_and_says_how_many_when_it_reads_again():
    read_fd, write_fd = os.pipe()
    stream = open(write_fd, "w")  # noqa: PTH123, SIM115 - a pipe, not a path
    console = ConsoleCopy(stream, max_bytes=4096)
    lines = [f"line {i:05d} {'x' * 50}\n".encode() for i in range(20_000)]  # ~1.2 MB
    written = threading.Event()

    def batches() -> None:
        for start in range(0, len(lines), 10):
            console.write(lines[start:start + 10])
        written.set()

    try:
        threading.Thread(target=batches, daemon=True).start()
        assert written.wait(10), "write() waited for the console"
        # Reading again: every line is shown or counted in a report after the shown ones.
        shown = _read_until(
            read_fd, lambda data: data.endswith(b"\n") and _accounted(data)[0] == len(lines))
        console.write([b"after\n"])  # the queue was taken: not dropped any more
        after = _read_until(read_fd, lambda data: data.endswith(b"\n"))
    finally:
        console.close()
        os.close(read_fd)
        stream.close()
    assert _accounted(shown)[1] >= 1 and shown.count(b"\n") < len(lines)
    assert after == b"after\n"


def test_close_writes_what_is_queued_and_gives_up_on_a_stuck_console():
    read_fd, write_fd = os.pipe()
    with open(write_fd, "w") as stream:  # noqa: PTH123 - a pipe, not a path
        console = ConsoleCopy(stream)
        console.write([b"one\n", b"two\n"])
        console.close()
        assert select.select([read_fd], [], [], 0)[0], "close() returned before the write"
        assert os.read(read_fd, 100) == b"one\ntwo\n"
    os.close(read_fd)
    read_fd, write_fd = os.pipe()
    stream = open(write_fd, "w")  # noqa: PTH123, SIM115 - a pipe, not a path
    console = ConsoleCopy(stream, close_timeout=0.2)
    console.write([b"x" * 200_000])  # more than the pipe holds: its thread is stuck
    closed = threading.Event()
    threading.Thread(target=lambda: (console.close(), closed.set()), daemon=True).start()
    try:
        assert closed.wait(10), "close() waited for a console that does not read"
    finally:
        os.close(read_fd)  # the stuck write ends (EPIPE)
        stream.close()
