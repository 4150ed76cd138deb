"""The write-behind buffer of the log streams: when lines reach the disk (WARNING at once, the
50 ms bound, the count bound, a batch being written), the console copy from the same batch,
and what kill -9 can lose (a real child process, SIGKILL)."""

from __future__ import annotations

import io
import os
import select
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from loguru import logger

from observability.log_streams import MAX_DELAY_S, LogStreams, setup_logging
from tests.observability.log_support import BTC, LINE, read_lines
from tests.support.waiting import wait_until

REPO = Path(__file__).resolve().parents[2]


def test_a_warning_is_on_disk_with_every_earlier_line_when_its_call_returns(tmp_path: Path):
    """The write-behind buffer: INFO lines wait for their batch (the flusher thread is
    stopped here by an interval of an hour, so only the logging calls can write them); a
    WARNING writes itself and everything before it, in order, before its call returns."""
    streams = LogStreams(tmp_path, flush_interval_s=3600, max_delay_s=3600)
    streams.attach("DEBUG")
    try:
        log = logger.bind(symbol=BTC)
        for i in range(5):
            log.info("info {}", i)
        assert read_lines(tmp_path / "bot.log") == []  # buffered: proves the test can fail
        log.warning("warn")
        # Read without closing or flushing: the WARNING's call itself wrote the batch.
        for path in (tmp_path / "bot.log", streams.path_for(BTC)):
            assert [line.split(" | ", 3)[3] for line in read_lines(path)] == [
                "info 0", "info 1", "info 2", "info 3", "info 4", "warn"]
        log.error("error")
        assert read_lines(streams.path_for(BTC))[-1].endswith("| error")
    finally:
        streams.close()


def test_info_lines_reach_the_disk_without_further_logging(streams):
    """The flusher thread writes pending lines on its own (every 20 ms)."""
    logger.bind(symbol=BTC).info("quiet")
    wait_until(lambda: read_lines(streams.path_for(BTC)) != [], message="the flusher's write")
    assert read_lines(streams.main_path)[0].endswith("| quiet")


def test_an_old_pending_line_is_written_by_the_next_logging_call(tmp_path: Path):
    """The bound when the flusher thread does not get the interpreter (an hour's interval
    here): the logging call that finds the oldest pending line max_delay_s old writes the
    batch before its own line is queued. The age is read from the clock given to the
    streams."""
    now = [100.0]
    streams = LogStreams(tmp_path, flush_interval_s=3600, max_delay_s=0.05,
                         clock=lambda: now[0])
    streams.attach("INFO")
    try:
        logger.info("first")
        now[0] += 0.049
        logger.info("second")
        assert read_lines(tmp_path / "bot.log") == []  # 49 ms old: still pending
        now[0] += 0.001
        logger.info("third")  # writes the pending batch before it queues itself
        assert [line.split(" | ")[-1] for line in read_lines(tmp_path / "bot.log")] == [
            "first", "second"]
    finally:
        streams.close()


class GatedDisk:
    """os.write that holds writes while `hold` is set: a flusher descheduled mid-batch."""

    def __init__(self) -> None:
        self.hold, self.entered, self.gate = False, threading.Event(), threading.Event()

    def __call__(self, fd: int, data: memoryview) -> int:
        if self.hold:
            self.entered.set()
            self.gate.wait(10)
        return os.write(fd, data)


def test_a_call_waits_for_an_old_line_in_a_batch_still_being_written(tmp_path: Path):
    disk, now = GatedDisk(), [100.0]
    streams = LogStreams(tmp_path, write=disk, flush_interval_s=3600, max_delay_s=0.05,
                         clock=lambda: now[0])
    streams.attach()
    try:
        logger.info("old")
        disk.hold = True
        writer = threading.Thread(target=streams.flush)
        writer.start()
        assert disk.entered.wait(10)  # the batch holding "old" has left the queue, unwritten
        now[0] += 0.06
        returned: list[str] = []
        caller = threading.Thread(target=lambda: (logger.info("next"), returned.append("next")))
        caller.start()
        caller.join(timeout=0.3)  # a wrong filter returns in microseconds
        assert caller.is_alive() and returned == []
        disk.hold = False
        disk.gate.set()
        caller.join(10)
        writer.join(10)
        assert returned == ["next"]
        assert read_lines(tmp_path / "bot.log")[0].endswith("| old")
    finally:
        streams.close()


def test_pending_lines_are_bounded_in_number(tmp_path: Path):
    streams = LogStreams(tmp_path, flush_interval_s=3600, max_delay_s=3600, max_pending=10)
    streams.attach("INFO")
    try:
        for i in range(25):
            logger.info("n {}", i)
        assert len(read_lines(tmp_path / "bot.log")) == 20
    finally:
        streams.close()
    assert len(read_lines(tmp_path / "bot.log")) == 25  # close() writes the rest


def test_unbuffered_mode_writes_every_line_in_its_call(tmp_path: Path):
    streams = LogStreams(tmp_path, flush_interval_s=0)
    streams.attach("INFO")
    try:
        logger.bind(symbol=BTC).info("at once")
        assert read_lines(streams.path_for(BTC))[0].endswith("| at once")
    finally:
        streams.close()


def test_console_gets_the_bot_log_lines_from_the_same_batch(tmp_path: Path):
    """Not a terminal (a service's stderr): the console copy is written by the streams, one
    formatting pass for both; through a descriptor and through a text-only stream."""
    read_fd, write_fd = os.pipe()
    with open(write_fd, "w") as pipe:  # noqa: PTH123 - a pipe, not a path
        for console in (pipe, io.StringIO()):
            streams = LogStreams(tmp_path / str(id(console)), console=console)
            streams.attach()
            try:
                logger.bind(symbol=BTC).info("to both")
                logger.warning("warned")
            finally:
                streams.close()
            text = os.read(read_fd, 65536).decode() if console is pipe else console.getvalue()
            assert text == streams.main_path.read_text()
            assert [line.split(" | ", 2)[2] for line in text.splitlines()] == [
                f"{BTC} | to both", "- | warned"]
    os.close(read_fd)


def test_setup_logging_copies_to_a_non_terminal_stderr_through_the_streams(tmp_path: Path):
    streams = setup_logging(tmp_path, console=True)  # pytest's stderr is not a terminal
    try:
        assert len(streams.handler_ids) == 1  # no second loguru sink formatting every line
    finally:
        streams.close()


def test_a_terminal_gets_the_lines_from_the_batches_too(tmp_path: Path):
    """A real terminal (a pseudo-terminal) as stderr: still one loguru handler, so the logging
    call does no console write; the terminal gets bot.log's bytes."""
    master, slave = os.openpty()
    with open(slave, "w") as terminal:  # noqa: PTH123 - a terminal, not a path
        assert terminal.isatty()
        streams = setup_logging(tmp_path, console=True, stderr=terminal)
        try:
            assert len(streams.handler_ids) == 1
            logger.bind(symbol=BTC).info("on screen")
            logger.warning("warned")
        finally:
            streams.close()
        expected = streams.main_path.read_bytes()
        shown = b""
        while (shown.replace(b"\r\n", b"\n") != expected
               and select.select([master], [], [], 10)[0]):
            shown += os.read(master, 65536)
    os.close(master)
    # The terminal's line discipline turns "\n" into "\r\n".
    assert shown.replace(b"\r\n", b"\n") == expected
    assert [line.split(" | ", 2)[2] for line in expected.decode().splitlines()] == [
        f"{BTC} | on screen", "- | warned"]


def _read_acks(proc: subprocess.Popen, minimum: int, timeout: float = 20.0) -> bytes:
    """Read the child's acknowledgement lines until at least `minimum` have come."""
    buffer, count, deadline = b"", 0, time.monotonic() + timeout
    fd = proc.stdout.fileno()
    while count < minimum:
        remaining = deadline - time.monotonic()
        assert remaining > 0 and proc.poll() is None, "child stopped logging"
        if select.select([fd], [], [], remaining)[0]:
            chunk = os.read(fd, 65536)
            buffer += chunk
            count += chunk.count(b"\n")
    return buffer


# Every <argv[2]>th line is a WARNING (0: none). After each logging call returns, the child
# acknowledges "<n> <W|I> <time.monotonic() at that moment>" on stdout.
CHILD = """
import sys, time
from pathlib import Path
from loguru import logger
from observability.log_streams import setup_logging
setup_logging(Path(sys.argv[1]), console=False)
log = logger.bind(symbol="BTC/USDT:USDT")
every = int(sys.argv[2])
i = 0
while True:
    if every and i % every == every - 1:
        log.warning("line {}", i)
        kind = "W"
    else:
        log.info("line {}", i)
        kind = "I"
    sys.stdout.write(f"{i} {kind} {time.monotonic()!r}\\n")
    sys.stdout.flush()
    i += 1
"""


@pytest.mark.parametrize(("acks_before_kill", "warning_every"),
                         [(6000, 0), (12000, 0), (20000, 0), (3000, 101), (7000, 101)])
def test_sigkill_loses_at_most_the_lines_of_the_last_50_ms(
    tmp_path: Path, acks_before_kill: int, warning_every: int
):
    """kill -9 at a moment while the child logs as fast as it can. What the README promises:
    the files hold a gap-free prefix of the lines in logging order; every line up to the last
    acknowledged WARNING is in it; and a line is missing only if it was logged less than
    MAX_DELAY_S (50 ms) before a logging call that returned: the call that finds a line that
    old pending writes the batch before it returns, whatever the flusher thread does."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(tmp_path), str(warning_every)],
        stdout=subprocess.PIPE, cwd=REPO, env=env,
    )
    try:
        acks = _read_acks(proc, acks_before_kill)
    finally:
        killed_at = time.monotonic()
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    acks += proc.stdout.read()
    proc.stdout.close()
    rows = [line.split() for line in acks.split(b"\n")[:-1]]  # the last piece may be partial
    times = [float(t) for _, _, t in rows]
    assert [int(n) for n, _, _ in rows] == list(range(len(rows)))
    last_warning = max([int(n) for n, kind, _ in rows if kind == b"W"], default=-1)
    assert (last_warning >= 0) == bool(warning_every)
    for path in (tmp_path / "bot.log", tmp_path / "BTC_USDT_USDT.log"):
        data = path.read_bytes() if path.exists() else b""
        # Linux stops a write to a file between two pages when the writer is killed, so the
        # last line may be cut short (CI saw "... | line "): a piece of a line, never more
        whole, _, cut = data.rpartition(b"\n")
        assert LINE.match(cut.decode() + "0" * 30) or len(cut) < 40, (path, cut)
        lines = whole.decode().splitlines() if whole or data.endswith(b"\n") else []
        assert all(LINE.match(line) for line in lines), path
        numbers = [int(line.rsplit(" ", 1)[1]) for line in lines]
        assert numbers == list(range(len(numbers))), f"{path}: not a gap-free prefix"
        on_disk = len(numbers)
        # the line being logged at the kill may be on disk before its acknowledgement is whole
        assert on_disk <= len(rows) + 1, f"{path}: {on_disk} lines but {len(rows)} acknowledged"
        assert on_disk > last_warning, f"{path}: lost the acknowledged WARNING {last_warning}"
        if on_disk < len(rows):  # a line is missing: it must have been young
            # The last acknowledged call began after the previous ack; any line acknowledged
            # 50 ms before that was pending past its bound when that call ran.
            bound_ok_until = times[-2] - MAX_DELAY_S
            assert times[on_disk] > bound_ok_until, (
                f"{path}: line {on_disk} was acknowledged {times[-2] - times[on_disk]:.3f} s "
                f"before a later call returned and is lost"
            )
        lost = max(0, len(rows) - on_disk)
        age = killed_at - times[on_disk] if lost else 0.0
        print(f"{path.name}: {len(rows)} acknowledged, {lost} lost, oldest lost logged "
              f"{age * 1000:.1f} ms before the kill signal")


# A program that ends without close() (a command's sys.exit, an uncaught exception): the lines
# still pending (the flusher thread never got to them: an interval of an hour here).
LAST_WORDS = """
import sys
from pathlib import Path
from loguru import logger
from observability.log_streams import LogStreams
streams = LogStreams(Path(sys.argv[1]), flush_interval_s=3600, max_delay_s=3600)
streams.attach("INFO")
for i in range(3):
    logger.bind(symbol="BTC/USDT:USDT").info("last words {}", i)
sys.exit(3)
"""


def test_the_pending_lines_are_written_when_the_interpreter_exits_without_close(tmp_path: Path):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, "-c", LAST_WORDS, str(tmp_path)], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 3, done.stderr
    for path in (tmp_path / "bot.log", tmp_path / "BTC_USDT_USDT.log"):
        assert [line.split(" | ", 3)[3] for line in read_lines(path)] == [
            "last words 0", "last words 1", "last words 2"], path


class FailsOnce:
    """os.write that raises an error no file fault gives (a bug below the streams) once."""

    def __init__(self) -> None:
        self.failed = threading.Event()

    def __call__(self, fd: int, data: memoryview) -> int:
        if not self.failed.is_set():
            self.failed.set()
            raise RuntimeError("write bug")
        return os.write(fd, data)


def test_the_flusher_goes_on_after_a_batch_that_raised(tmp_path: Path, capfd):
    """Only the flusher thread writes INFO lines of a bot that logs nothing more (the 50 ms
    bound is an hour here): a batch that raised must not end it, or a quiet bot's lines would
    wait for its next WARNING, and a kill -9 meanwhile would lose them."""
    disk = FailsOnce()
    streams = LogStreams(tmp_path, write=disk, flush_interval_s=0.01, max_delay_s=3600)
    streams.attach("INFO")
    try:
        logger.info("lost with the batch that raised")
        assert disk.failed.wait(10)
        logger.bind(symbol=BTC).info("written by the flusher")
        wait_until(lambda: read_lines(streams.path_for(BTC)) != [], message="the flusher's write")
        assert [line.split(" | ")[-1] for line in read_lines(tmp_path / "bot.log")] == [
            "written by the flusher"]
    finally:
        streams.close()
    assert "log flusher: RuntimeError: write bug; retrying" in capfd.readouterr().err
