"""`bot.py logs SYMBOL -f`: following goes on where the printed tail ended, so the lines
written meanwhile (also across a rotation) are shown."""

from __future__ import annotations

import os
import select
import subprocess
import sys
import threading
import time
from collections.abc import Iterable
from pathlib import Path

from observability import log_tail
from tests.observability.log_support import BTC
from tests.support.waiting import wait_until

REPO = Path(__file__).resolve().parents[2]


def _first(lines: Iterable[str], stop: threading.Event, n: int) -> list[str]:
    """The first ``n`` lines ``lines`` yields (a follower stopped by ``stop``), within 10 s."""
    seen: list[str] = []
    reader = threading.Thread(target=lambda: seen.extend(lines), daemon=True)
    reader.start()
    try:
        wait_until(lambda: len(seen) >= n, message=f"{n} followed lines")
    finally:
        stop.set()
        reader.join(5)
    return seen


def test_follow_goes_on_where_the_tail_ended(tmp_path: Path):
    path = tmp_path / "x.log"
    path.write_text("one\ntwo\n")
    lines, end = log_tail.tail(path, 1)
    assert lines == ["two"]
    with path.open("a") as handle:
        handle.write("three\n")  # written after the tail, before following starts
    stop = threading.Event()
    following = log_tail.follow(path, stop, poll_interval=0.01, after=end)
    assert _first(following, stop, 1) == ["three"]


def test_follow_after_a_tail_reads_the_rest_of_a_file_rotated_in_between(tmp_path: Path):
    path = tmp_path / "x.log"
    path.write_text("one\n")
    lines, end = log_tail.tail(path, 5)
    assert lines == ["one"]
    with path.open("a") as handle:
        handle.write("two\n")
    path.rename(f"{path}.1")  # rotated
    path.write_text("three\n")
    stop = threading.Event()
    following = log_tail.follow(path, stop, poll_interval=0.01, after=end)
    assert _first(following, stop, 2) == ["two", "three"]


def test_logs_follow_shows_the_lines_written_while_the_tail_is_printed(tmp_path: Path):
    """A real `bot.py logs -f` whose stdout is not read: it has read the tail and is stuck
    printing it (500 KB, more than a pipe holds) when the bot writes a new line."""
    path = tmp_path / "logs" / "BTC_USDT_USDT.log"
    path.parent.mkdir()
    path.write_text("".join(f"old {i:05d} {'x' * 90}\n" for i in range(5000)))
    proc = subprocess.Popen(
        [sys.executable, str(REPO / "bot.py"), "logs", BTC, "-f", "-n", "5000",
         "--config", str(REPO / "config.toml"), "--data-dir", str(tmp_path)],
        cwd=REPO, stdout=subprocess.PIPE,
    )
    out, deadline = b"", time.monotonic() + 30
    try:
        fd = proc.stdout.fileno()
        assert select.select([fd], [], [], 30)[0], "the tail was never printed"
        with path.open("a") as handle:
            handle.write("new line\n")
        while not out.endswith(b"new line\n"):
            remaining = deadline - time.monotonic()
            assert remaining > 0 and proc.poll() is None, "the new line was not shown"
            if select.select([fd], [], [], remaining)[0]:
                out += os.read(fd, 65536)
    finally:
        proc.kill()
        proc.wait(10)
        proc.stdout.close()
    shown = out.decode().splitlines()
    assert shown[:-1] == path.read_text().splitlines()[:-1] and shown[-1] == "new line"


def _rotate(path: Path, text: str) -> None:
    """One rotation as the bot does it (x.log.1 -> x.log.2, x.log -> x.log.1), then a new x.log."""
    for index in range(5, 0, -1):
        older = path.with_name(f"{path.name}.{index}")
        if older.exists():
            older.rename(path.with_name(f"{path.name}.{index + 1}"))
    path.rename(f"{path}.1")
    path.write_text(text)


def test_follow_reads_every_file_of_two_rotations_between_two_polls(tmp_path: Path):
    """Found by review: the followed file rotated twice before the next poll; the rest of it
    was read, then x.log, and the middle file (now x.log.1) was skipped."""
    path = tmp_path / "x.log"
    path.write_text("one\n")
    stop = threading.Event()
    following = log_tail.follow(path, stop, poll_interval=0.01, from_start=True)
    assert next(following) == "one"  # the follower is paused right after this line
    with path.open("a") as handle:
        handle.write("two\n")
    _rotate(path, "three\n")
    _rotate(path, "four\n")
    assert _first(following, stop, 3) == ["two", "three", "four"]


def test_follow_reads_the_next_file_while_a_rotation_moves_the_older_ones(tmp_path: Path):
    """Found by review: a rotation renames x.log.<n> to x.log.<n+1> from the oldest down, so
    while it runs one name below the moved files is missing. A follower one file behind that
    looked for its file then stopped at that hole, did not find it and went on at x.log,
    skipping every file between (12,000 lines logged by 4 threads through 4 KiB files,
    retention 1000: `logs -f` missed 182-364 lines, two to four whole files, all of them on
    disk)."""
    path = tmp_path / "x.log"
    path.write_text("one\n")
    stop = threading.Event()
    following = log_tail.follow(path, stop, poll_interval=0.01, from_start=True)
    assert next(following) == "one"  # the follower is paused right after this line
    _rotate(path, "two\n")  # x.log.1: one
    _rotate(path, "three\n")  # x.log.2: one, x.log.1: two
    # a third rotation half-way: the oldest file moved up, x.log.2 not filled yet
    path.with_name("x.log.2").rename(path.with_name("x.log.3"))
    assert next(following) == "two"
    assert _first(following, stop, 1) == ["three"]


def test_tail_tops_up_from_the_rotated_files_while_a_rotation_moves_them(tmp_path: Path):
    """The same hole in the middle of a rotation: -n N stopped at it and printed fewer lines."""
    path = tmp_path / "x.log"
    path.write_text("one\n")
    _rotate(path, "two\n")
    _rotate(path, "three\n")  # x.log.2: one, x.log.1: two, x.log: three
    path.with_name("x.log.2").rename(path.with_name("x.log.3"))  # a rotation half-way
    path.with_name("x.log.1").rename(path.with_name("x.log.2"))
    assert log_tail.tail(path, 5)[0] == ["one", "two", "three"]


def test_follow_after_a_tail_reads_every_file_of_two_rotations_in_between(tmp_path: Path):
    path = tmp_path / "x.log"
    path.write_text("one\n")
    lines, end = log_tail.tail(path, 5)
    with path.open("a") as handle:
        handle.write("two\n")
    _rotate(path, "three\n")
    _rotate(path, "four\n")
    stop = threading.Event()
    following = log_tail.follow(path, stop, poll_interval=0.01, after=end)
    assert _first(following, stop, 3) == ["two", "three", "four"]


def _read_until(fd: int, out: bytes, wanted: bytes, proc: subprocess.Popen) -> bytes:
    deadline = time.monotonic() + 30
    while wanted not in out:
        remaining = deadline - time.monotonic()
        assert remaining > 0 and proc.poll() is None, (wanted, out, proc.poll())
        if select.select([fd], [], [], remaining)[0]:
            chunk = os.read(fd, 65536)
            assert chunk, (wanted, out)
            out += chunk
    return out


def test_logs_follow_waits_for_a_symbol_log_not_written_yet(tmp_path: Path):
    """Found by review: `bot.py logs SYMBOL -f` right after the bot started, before the
    symbol's first line, exited with "no log". It waits for the file as `tail -F` does (one
    line on stderr says so) and shows it from its first line; without -f, or for a symbol
    the config does not trade, it is still the one-line error."""
    path = tmp_path / "logs" / "BTC_USDT_USDT.log"
    config = str(REPO / "config.toml")
    proc = subprocess.Popen(
        [sys.executable, str(REPO / "bot.py"), "logs", BTC, "-f", "--config", config,
         "--data-dir", str(tmp_path)],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    try:
        err = _read_until(proc.stderr.fileno(), b"", b"waiting for it\n", proc)
        assert str(path).encode() in err
        path.parent.mkdir()
        path.write_text("first\nsecond\n")
        out = _read_until(proc.stdout.fileno(), b"", b"second\n", proc)
        assert out == b"first\nsecond\n"
    finally:
        proc.kill()
        proc.wait(10)
        proc.stdout.close()
        proc.stderr.close()
    for args in ([BTC], ["NOPE/USDT:USDT", "-f"]):
        done = subprocess.run(
            [sys.executable, str(REPO / "bot.py"), "logs", *args, "--config", config,
             "--data-dir", str(tmp_path / "other")],
            cwd=REPO, capture_output=True, text=True, timeout=60,
        )
        assert done.returncode == 2 and "no log for" in done.stderr, done.stderr
        assert len(done.stderr.splitlines()) == 1


def test_follow_reads_a_file_truncated_in_place_from_its_beginning(tmp_path: Path):
    """`: > x.log` (or logrotate's copytruncate) empties the file the bot appends to (O_APPEND:
    its next line lands at the new end); a follower past the new end reads from the start
    again, not from its old offset, which the file may never reach again."""
    path = tmp_path / "x.log"
    path.write_text("one\ntwo\n")
    stop = threading.Event()
    following = log_tail.follow(path, stop, poll_interval=0.01, from_start=True)
    assert [next(following), next(following)] == ["one", "two"]
    with path.open("r+") as handle:  # the same file (inode), emptied, then a shorter line
        handle.truncate(0)
    with path.open("a") as handle:
        handle.write("3\n")
    assert _first(following, stop, 1) == ["3"]
