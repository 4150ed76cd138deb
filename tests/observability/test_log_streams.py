"""Per-symbol log streams: routing, format, durability (kill -9), rotation, tail and follow."""

from __future__ import annotations

import io
import os
import re
import select
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from loguru import logger

from observability.log_streams import (
    MAX_DELAY_S,
    LogStreams,
    follow,
    safe_name,
    setup_logging,
    symbol_log_path,
    tail_lines,
)

REPO = Path(__file__).resolve().parents[2]
LINE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z \| (\w+) \| (\S+) \| (.*)$")
BTC = "BTC/USDT:USDT"


@pytest.fixture
def streams(tmp_path: Path):
    streams = setup_logging(tmp_path / "logs", level="DEBUG", console=False)
    yield streams
    streams.close()


def read_lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


def wait_for(condition, timeout: float = 10.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


def test_safe_names():
    assert safe_name(BTC) == "BTC_USDT_USDT"
    assert safe_name("1000PEPE/USDT:USDT") == "1000PEPE_USDT_USDT"
    assert safe_name("a b/c\\d*é") == "a_b_c_d__"
    assert safe_name("x.y-z_1") == "x.y-z_1"
    assert safe_name("..") == "_.." and safe_name("bot") == "_bot"
    assert symbol_log_path(Path("/l"), BTC) == Path("/l/BTC_USDT_USDT.log")


@given(st.text(max_size=40))
def test_safe_name_is_always_a_plain_file_name(symbol: str):
    name = safe_name(symbol)
    assert re.fullmatch(r"[A-Za-z0-9._-]+", name)
    assert name not in (".", "..", "bot")


def test_symbol_lines_go_to_both_files(streams):
    logger.info("unbound line")
    logger.bind(symbol=BTC).info("btc line {}", 1)
    logger.bind(symbol="ETH/USDT:USDT").warning("eth line")
    logger.bind(symbol=BTC).debug("btc debug")
    streams.flush()
    main = read_lines(streams.main_path)
    btc = read_lines(streams.path_for(BTC))
    eth = read_lines(streams.path_for("ETH/USDT:USDT"))
    assert [LINE.match(line).groups() for line in main] == [
        ("INFO", "-", "unbound line"),
        ("INFO", BTC, "btc line 1"),
        ("WARNING", "ETH/USDT:USDT", "eth line"),
        ("DEBUG", BTC, "btc debug"),
    ]
    assert btc == [main[1], main[3]]
    assert eth == [main[2]]
    assert sorted(p.name for p in streams.logs_dir.iterdir()) == [
        "BTC_USDT_USDT.log", "ETH_USDT_USDT.log", "bot.log",
    ]
    assert {p.stat().st_mode & 0o777 for p in streams.logs_dir.iterdir()} == {0o600}


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
    wait_for(lambda: read_lines(streams.path_for(BTC)) != [], what="the flusher's write")
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


def test_level_filter_and_exception_traceback(tmp_path: Path):
    streams = setup_logging(tmp_path, level="warning", console=False)
    try:
        logger.bind(symbol=BTC).info("too quiet")
        try:
            raise ValueError("bad tick")
        except ValueError:
            logger.bind(symbol=BTC).exception("failed")
        text = streams.path_for(BTC).read_text()
    finally:
        streams.close()
    assert "too quiet" not in text
    assert f"| ERROR | {BTC} | failed\nTraceback (most recent call last):" in text
    assert "ValueError: bad tick" in text


def test_close_detaches_the_sink(tmp_path: Path):
    streams = setup_logging(tmp_path, console=False)
    logger.info("before")
    streams.close()
    logger.info("after")
    assert [line.endswith("before") for line in read_lines(tmp_path / "bot.log")] == [True]


def test_rotation_keeps_retention_files(tmp_path: Path):
    streams = setup_logging(tmp_path, console=False, rotate_bytes=300, retention=3)
    try:
        for i in range(200):
            logger.bind(symbol=BTC).info("line {:04d}", i)
    finally:
        streams.close()
    base = tmp_path / "BTC_USDT_USDT.log"
    names = sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(base.name))
    assert names == [base.name, base.name + ".1", base.name + ".2", base.name + ".3"]
    kept = []
    for path in (Path(f"{base}.3"), Path(f"{base}.2"), Path(f"{base}.1"), base):
        assert path.stat().st_size <= 300
        kept += [int(line.rsplit(" ", 1)[1]) for line in read_lines(path)]
    assert kept == list(range(kept[0], 200))  # newest lines, contiguous, in order
    assert len(list(tmp_path.glob("bot.log*"))) == 4


def test_many_symbols_with_few_open_files(tmp_path: Path):
    streams = setup_logging(tmp_path, console=False, max_open_files=3)
    try:
        symbols = [f"S{i}/USDT:USDT" for i in range(10)]
        for round_ in range(3):
            for symbol in symbols:
                logger.bind(symbol=symbol).info("r{}", round_)
        assert streams.open_files() <= 4
    finally:
        streams.close()
    for symbol in symbols:
        lines = read_lines(symbol_log_path(tmp_path, symbol))
        assert [line[-2:] for line in lines] == ["r0", "r1", "r2"]


def test_tail_lines(tmp_path: Path):
    path = tmp_path / "x.log"
    assert tail_lines(path) == []
    path.write_text("".join(f"line {i}\n" for i in range(100_000)))
    assert tail_lines(path, 3) == ["line 99997", "line 99998", "line 99999"]
    assert tail_lines(path, 0) == []
    small = tmp_path / "s.log"
    small.write_text("a\nb")
    assert tail_lines(small, 5) == ["a", "b"]
    Path(f"{small}.1").write_text("old1\nold2\n")
    assert tail_lines(small, 3) == ["old2", "a", "b"]


def test_follow_continues_across_rotation(tmp_path: Path):
    streams = setup_logging(tmp_path, console=False, rotate_bytes=400, retention=2)
    path = streams.path_for(BTC)
    logger.bind(symbol=BTC).info("followed -1")
    stop, seen = threading.Event(), []

    def reader_main() -> None:
        seen.extend(follow(path, stop, poll_interval=0.01, from_start=True))  # line by line


    reader = threading.Thread(target=reader_main)
    reader.start()
    try:
        for i in range(40):  # ~60 bytes per line: the file rotates every ~6 lines
            logger.bind(symbol=BTC).info("followed {}", i)
            wait_for(lambda n=i + 2: len(seen) >= n, what=f"line {i}")
    finally:
        stop.set()
        reader.join(timeout=5)
        streams.close()
    assert not reader.is_alive()
    assert [line.rsplit(" ", 1)[1] for line in seen] == [str(i) for i in range(-1, 40)]
    assert Path(f"{path}.2").exists()


def test_follow_starts_at_the_end_and_waits_for_a_missing_file(tmp_path: Path):
    path = tmp_path / "later.log"
    stop, seen = threading.Event(), []
    lines = follow(path, stop, poll_interval=0.01)  # the file does not exist yet
    reader = threading.Thread(target=lambda: seen.extend(lines))
    reader.start()
    try:
        path.write_text("first\nsecond\n")
        wait_for(lambda: len(seen) == 2, what="lines of the new file")
    finally:
        stop.set()
        reader.join(timeout=5)
    assert seen == ["first", "second"]
    existing = tmp_path / "existing.log"
    existing.write_text("old\n")
    lines = follow(existing, poll_interval=0.01)
    with existing.open("a") as handle:
        handle.write("new\n")
    assert next(lines) == "new"  # opened at its end by the follow() call: "old" is skipped
    lines.close()


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
        lines = read_lines(path)
        assert all(LINE.match(line) for line in lines), path
        numbers = [int(line.rsplit(" ", 1)[1]) for line in lines]
        assert numbers == list(range(len(numbers))), f"{path}: not a gap-free prefix"
        on_disk = len(numbers)
        assert on_disk > last_warning, f"{path}: lost the acknowledged WARNING {last_warning}"
        if on_disk < len(rows):  # a line is missing: it must have been young
            # The last acknowledged call began after the previous ack; any line acknowledged
            # 50 ms before that was pending past its bound when that call ran.
            bound_ok_until = times[-2] - MAX_DELAY_S
            assert times[on_disk] > bound_ok_until, (
                f"{path}: line {on_disk} was acknowledged {times[-2] - times[on_disk]:.3f} s "
                f"before a later call returned and is lost"
            )
        lost = len(rows) - on_disk
        age = killed_at - times[on_disk] if lost else 0.0
        print(f"{path.name}: {len(rows)} acknowledged, {lost} lost, oldest lost logged "
              f"{age * 1000:.1f} ms before the kill signal")


def test_account_lines_go_to_the_accounts_folder(streams):
    """A bot with [[accounts]] binds each account's logger: logs/<account>/<symbol>.log, the
    account's lines that name no symbol in logs/<account>/bot.log, everything in logs/bot.log."""
    alpha, beta = logger.bind(account="alpha"), logger.bind(account="beta")
    alpha.bind(symbol=BTC).info("alpha btc")
    beta.bind(symbol=BTC).info("beta btc")
    alpha.info("alpha feed")
    logger.bind(symbol=BTC).info("classic btc")
    streams.flush()
    main = read_lines(streams.main_path)
    assert [line.split(" | ", 3)[3] for line in main] == [
        "alpha btc", "beta btc", "alpha feed", "classic btc"]
    assert " | alpha BTC/USDT:USDT | alpha btc" in main[0] and " | alpha - | alpha feed" in main[2]
    logs = streams.logs_dir
    assert read_lines(logs / "alpha" / "BTC_USDT_USDT.log") == [main[0]]
    assert read_lines(logs / "beta" / "BTC_USDT_USDT.log") == [main[1]]
    assert read_lines(logs / "alpha" / "bot.log") == [main[2]]
    assert read_lines(logs / "BTC_USDT_USDT.log") == [main[3]]  # no account: the classic layout
    assert symbol_log_path(logs, BTC, "beta") == logs / "beta" / "BTC_USDT_USDT.log"
    assert symbol_log_path(logs, None, "beta") == logs / "beta" / "bot.log"
    logger.bind(account="alpha", symbol="bot").info("a symbol called bot")
    streams.flush()
    assert read_lines(logs / "alpha" / "_bot.log")[-1].endswith("a symbol called bot")
    assert read_lines(logs / "alpha" / "bot.log") == [main[2]]
