"""Per-symbol log streams: routing, format, rotation, tail and follow (the write-behind buffer
and kill -9: test_log_buffering.py)."""

from __future__ import annotations

import hashlib
import re
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st
from loguru import logger

from observability.log_format import UtcClock
from observability.log_streams import (
    follow,
    safe_name,
    setup_logging,
    symbol_log_path,
    tail_lines,
)
from tests.observability.log_support import BTC, LINE, read_lines
from tests.support.waiting import wait_until


def _hash(symbol: str) -> str:
    return hashlib.sha256(symbol.encode()).hexdigest()[:8]


def test_safe_names():
    assert safe_name(BTC) == "BTC_USDT_USDT"
    assert safe_name("1000PEPE/USDT:USDT") == "1000PEPE_USDT_USDT"
    assert safe_name("BTC/USD:BTC-240329-50000-C") == "BTC_USD_BTC-240329-50000-C"
    odd = "a b/c\\d*é"
    assert safe_name(odd) == f"a_b_c_d____{_hash(odd)}"
    assert safe_name("x.y-z_1") == f"x.y-z_1__{_hash('x.y-z_1')}"  # else it would be x.y-z/1's
    assert safe_name("x.y-z") == "x.y-z"
    assert safe_name("..") == "_.." and safe_name("bot") == "_bot"
    assert symbol_log_path(Path("/l"), BTC) == Path("/l/BTC_USDT_USDT.log")
    assert symbol_log_path(Path("/l"), BTC, "main_2") == Path("/l/main_2/BTC_USDT_USDT.log")


@given(st.text(max_size=40))
def test_safe_name_is_always_a_plain_file_name(symbol: str):
    name = safe_name(symbol)
    assert re.fullmatch(r"[A-Za-z0-9._-]+", name)
    assert name not in (".", "..", "bot")


_NAME = st.text(alphabet="aB1._-/:\\ é币安", max_size=10)


@given(st.lists(st.tuples(_NAME, st.none() | _NAME), min_size=2, max_size=6, unique=True))
def test_distinct_symbols_and_accounts_get_distinct_files(keys: list[tuple[str, str | None]]):
    """Two symbols (or accounts) never share a file: they would mix their lines and rotate
    the file independently."""
    assert len({symbol_log_path(Path("/l"), s, a) for s, a in keys}) == len(keys)
    accounts = {a for _, a in keys if a is not None}
    assert len({symbol_log_path(Path("/l"), None, a) for a in accounts}) == len(accounts)


def test_symbols_that_differ_only_in_replaced_characters_get_their_own_files(streams):
    """Binance perps with CJK names: '币安人生/USDT:USDT' and '客服小何/USDT:USDT'."""
    first, second = "币安人生/USDT:USDT", "客服小何/USDT:USDT"
    logger.bind(symbol=first).info("first line")
    logger.bind(symbol=second).info("second line")
    streams.flush()
    assert [line.rsplit(" | ", 1)[1] for line in read_lines(streams.path_for(first))] == [
        "first line"]
    assert [line.rsplit(" | ", 1)[1] for line in read_lines(streams.path_for(second))] == [
        "second line"]


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


def test_lines_with_and_without_a_traceback_keep_their_order(streams):
    """Plain lines are queued by the handler's filter (loguru's sink call skipped), a line with
    a traceback by the sink once loguru has formatted it: both go into one queue, so each file
    keeps the logging order and the format; another loguru sink still gets every line."""
    seen: list[str] = []
    other = logger.add(lambda m: seen.append(m.record["message"]), format="{message}")
    try:
        log = logger.bind(symbol=BTC)
        log.info("one")
        try:
            raise ValueError("bad tick")
        except ValueError:
            log.opt(exception=True).info("two")
        log.info("three")
    finally:
        logger.remove(other)
    streams.flush()
    for path in (streams.main_path, streams.path_for(BTC)):
        text = path.read_text()
        lines = text.splitlines()
        assert [LINE.match(line).groups() for line in lines if LINE.match(line)] == [
            ("INFO", BTC, "one"), ("INFO", BTC, "two"), ("INFO", BTC, "three")]
        assert lines[2] == "Traceback (most recent call last):"
        assert text.index("ValueError: bad tick") < text.index("| three")
    assert seen == ["one", "two", "three"]


def test_line_time_is_utc_and_odd_symbols_are_logged(streams):
    """The stamp is the UTC time of the logging call (to the millisecond); a symbol bound as
    an unhashable value still gets its line."""
    before = datetime.now(UTC)
    logger.bind(symbol=BTC).info("timed")
    after = datetime.now(UTC)
    logger.bind(symbol=["odd"]).info("listed")
    streams.flush()
    first, second = read_lines(streams.main_path)
    stamp = datetime.strptime(first[:23], "%Y-%m-%dT%H:%M:%S.%f").replace(tzinfo=UTC)
    assert before - timedelta(milliseconds=1) <= stamp <= after
    assert LINE.match(second).groups() == ("INFO", "['odd']", "listed")


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
            wait_until(lambda n=i + 2: len(seen) >= n, message=f"line {i}")
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
        wait_until(lambda: len(seen) == 2, message="lines of the new file")
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


def test_each_line_gets_the_millisecond_it_was_logged_at():
    """The stamp text is cached per millisecond and its date-time part per second: lines of
    one second get their own milliseconds, a new second its own text."""
    clock, base = UtcClock(), 1_700_000_000  # 2023-11-14T22:13:20Z
    stamps = [clock.format(base + ms / 1000 + 0.0004) for ms in (1, 1, 2, 999, 1000, 1001)]
    assert stamps == [
        "2023-11-14T22:13:20.001Z", "2023-11-14T22:13:20.001Z", "2023-11-14T22:13:20.002Z",
        "2023-11-14T22:13:20.999Z", "2023-11-14T22:13:21.000Z", "2023-11-14T22:13:21.001Z"]


def test_accounts_named_bot_and_underscore_bot_get_their_own_folders(streams):
    """The config takes both names (a-z, 0-9, _): account "bot" gets logs/_bot/ (a folder
    beside logs/bot.log's name), so an account "_bot" must get another, or the two accounts
    would write, rotate and tail each other's files."""
    for account in ("bot", "_bot"):
        logger.bind(account=account, symbol=BTC).info("{} btc", account)
        logger.bind(account=account).info("{} feed", account)
    streams.flush()
    for account in ("bot", "_bot"):
        assert [line.split(" | ")[-1] for line in read_lines(streams.path_for(BTC, account))] == [
            f"{account} btc"]
        assert [line.split(" | ")[-1] for line in read_lines(streams.path_for(None, account))] == [
            f"{account} feed"]
    assert streams.path_for(None, "bot").parent != streams.path_for(None, "_bot").parent
