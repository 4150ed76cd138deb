"""`bot.py download` against a local Bybit emulator (127.0.0.1): pagination, the rate limit,
retries, resume after a kill, and that the result backtests."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import threading
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.exchange.ccxt.emu_book import Book
from tests.exchange.ccxt.emu_bybit import BybitVenue
from tests.exchange.ccxt.emu_server import EmulatorServer
from tests.support.waiting import wait_until

ROOT = Path(__file__).resolve().parents[2]
MINUTE = 60_000
START = 1_700_000_000_000 - 1_700_000_000_000 % MINUTE  # 2023-11-14 22:13 UTC


class KlineVenue(BybitVenue):
    """Bybit's /v5/market/kline: the newest `limit` candles in [start, end], newest first."""

    def __init__(self, book: Book, candles: int, hang_on_call: int = 0,
                 missing: tuple[range, ...] = (), cap: int = 1000) -> None:
        super().__init__(book)
        self.candles = candles
        self.cap = cap
        """The most candles one answer holds, whatever `limit` asks (Bybit: 1000; ccxt clamps
        OKX's to 300, or 100 for mark and index candles)."""
        self.missing = missing
        """Candle numbers the venue has none of (not listed yet, an outage)."""
        self.calls = 0
        self.hang_on_call = hang_on_call
        self.release = threading.Event()
        self.book.now_ms = START + candles * MINUTE + 30_000  # the last candle has closed

    def h_v5_market_kline(self, p: dict[str, Any]) -> tuple[int, Any]:
        self.calls += 1
        if self.calls == self.hang_on_call:
            self.release.wait(30)  # a request that never answers (the client gets killed)
            return 503, {"retCode": 10006, "retMsg": "released"}
        start, limit = int(p["start"]), int(p.get("limit", 200))
        end = int(p.get("end", self.book.now_ms))
        rows = []
        for i in range(self.candles):
            ts = START + i * MINUTE
            if start <= ts <= end and not any(i in gone for gone in self.missing):
                o = Decimal(30000 + i % 97)
                rows.append([str(ts), str(o), str(o + 5), str(o - 5), str(o + 1), "2.5", "75000"])
        rows = rows[-min(limit, self.cap):][::-1]
        return self._ok({"category": "linear", "symbol": p["symbol"], "list": rows})


def _download(emu: EmulatorServer, data: Path, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "bot.py", "download", "--exchange", "bybit", "--symbols", "BTC/USDT:USDT",
         "--timeframe", "1m", "--from", "2023-11-14T22:13", "--to", "2023-11-17",
         "--data", str(data), "--api-url", emu.base_url, *extra],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_download_paginates_within_the_rate_limit_and_the_file_backtests(tmp_path: Path) -> None:
    venue = KlineVenue(Book({"BTC/USDT:USDT": Decimal(30000)}), candles=2_500)
    emu = EmulatorServer(venue).start()
    try:
        emu.fail_next("/v5/market/kline", 1, status=503, body={"retCode": 10006, "retMsg": "busy"})
        proc = _download(emu, tmp_path / "candles", "--limit", "1000")
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        hits = emu.hits("/v5/market/kline")
    finally:
        emu.stop()
    path = tmp_path / "candles" / "BTC_USDT_USDT-1m.csv"
    assert f"BTC/USDT:USDT: 2500 new candles -> {path}" in out
    lines = path.read_text().splitlines()
    assert lines[0] == "timestamp,open,high,low,close,volume" and len(lines) == 2_501
    ts = [int(x.split(",")[0]) for x in lines[1:]]
    assert ts == [START + i * MINUTE for i in range(2_500)]
    # one refused (retried), three pages of <= 1000; no request after the venue's last closed
    # candle (its clock, fetch_time, says the next has not closed)
    assert [int(h.params["start"]) for h in hits] == [START, START, START + 1000 * MINUTE,
                                                       START + 2000 * MINUTE]
    assert [int(h.params["end"]) for h in hits[1:3]] == [START + 1000 * MINUTE - 1,
                                                          START + 2000 * MINUTE - 1]
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600

    config = tmp_path / "bt.toml"
    config.write_text('[symbols]\nlist = ["BTC/USDT:USDT"]\n[strategy]\nmin_volatility_pct = 0\n')
    done = subprocess.run([sys.executable, "bot.py", "backtest", "--config", str(config),
                           "--data", str(tmp_path / "candles"), "--no-charts", "--no-progress",
                           "--out", str(tmp_path / "report")],
                          cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert "2,500 candles" in done.stdout


def test_windows_without_candles_do_not_end_the_download(tmp_path: Path) -> None:
    """The symbol is listed 1,200 minutes after --from, and the venue has an outage of 1,200
    minutes (longer than a page) later on: both empty windows are skipped, the candles after
    them downloaded."""
    venue = KlineVenue(Book({"BTC/USDT:USDT": Decimal(30000)}), candles=3_000,
                       missing=(range(0, 1_200), range(1_700, 2_900)))
    emu = EmulatorServer(venue).start()
    try:
        proc = _download(emu, tmp_path / "candles", "--limit", "1000")
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        starts = [int(h.params["start"]) for h in emu.hits("/v5/market/kline")]
    finally:
        emu.stop()
    path = tmp_path / "candles" / "BTC_USDT_USDT-1m.csv"
    to = (1_700_179_200_000 - START) // MINUTE  # --to 2023-11-17 00:00: candle 2,987
    assert f"BTC/USDT:USDT: {500 + to - 2_900} new candles -> {path}" in out
    ts = [int(x.split(",")[0]) for x in path.read_text().splitlines()[1:]]
    assert ts == [START + i * MINUTE for i in [*range(1_200, 1_700), *range(2_900, to)]]
    # an empty window moves on by one page; a window whose first candles are missing is asked
    # once more for them (a venue with a smaller page would have left them out: see below)
    assert starts == [START + m * MINUTE for m in (0, 1_000, 1_000, 1_700, 2_700, 2_700)]


def test_a_venue_page_smaller_than_limit_loses_no_candles(tmp_path: Path) -> None:
    """A venue that answers at most 300 candles (ccxt clamps OKX's limit so) with the newest of
    the window: each 1,000-candle window is completed from its front, not cut to its last 300
    (found by review: 700 of every 1,000 candles were missing, the file's first 700 too)."""
    venue = KlineVenue(Book({"BTC/USDT:USDT": Decimal(30000)}), candles=2_500, cap=300)
    emu = EmulatorServer(venue).start()
    try:
        proc = _download(emu, tmp_path / "candles", "--limit", "1000")
        out, err = proc.communicate(timeout=120)
    finally:
        emu.stop()
    assert proc.returncode == 0, err
    path = tmp_path / "candles" / "BTC_USDT_USDT-1m.csv"
    assert f"BTC/USDT:USDT: 2500 new candles -> {path}" in out
    ts = [int(x.split(",")[0]) for x in path.read_text().splitlines()[1:]]
    assert ts == [START + i * MINUTE for i in range(2_500)]


def test_a_killed_download_resumes_after_the_last_complete_candle(tmp_path: Path) -> None:
    venue = KlineVenue(Book({"BTC/USDT:USDT": Decimal(30000)}), candles=2_900, hang_on_call=2)
    emu = EmulatorServer(venue).start()
    data = tmp_path / "candles"
    part = data / "BTC_USDT_USDT-1m.csv.part"
    try:
        proc = _download(emu, data, "--limit", "1000")
        wait_until(lambda: len(emu.hits("/v5/market/kline")) >= 2, timeout=60,
                   message="the second page request")
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        lines = part.read_text().splitlines()
        assert len(lines) == 1 + 1000
        with part.open("a") as handle:
            handle.write("1700060000000,300")  # a torn line from a kill mid-write
        venue.release.set()
        emu.clear()
        proc = _download(emu, data, "--limit", "1000")
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        starts = [int(h.params["start"]) for h in emu.hits("/v5/market/kline")]
    finally:
        emu.stop()
    assert starts == [START + 1000 * MINUTE, START + 2000 * MINUTE]
    assert "1900 new candles" in out
    final = data / "BTC_USDT_USDT-1m.csv"
    ts = [int(x.split(",")[0]) for x in final.read_text().splitlines()[1:]]
    assert ts == [START + i * MINUTE for i in range(2_900)] and not part.exists()


def test_ccxt_spaces_requests_at_the_venues_rate_limit(tmp_path: Path) -> None:
    import ccxt

    from backtest.download import _exchange, download_symbol

    venue = KlineVenue(Book({"BTC/USDT:USDT": Decimal(30000)}), candles=1_000)
    emu = EmulatorServer(venue).start()
    try:
        ex = _exchange("bybit", emu.base_url)
        ex.rateLimit = 100  # ms between calls, ccxt's throttle (bybit's default is 20)
        assert isinstance(ex, ccxt.bybit) and ex.enableRateLimit
        ex.load_markets()
        started = time.monotonic()
        _, count = download_symbol(ex, "BTC/USDT:USDT", "1m", START, START + 1000 * MINUTE,
                                   tmp_path, limit=100, now_ms=lambda: venue.book.now_ms)
        elapsed = time.monotonic() - started
    finally:
        emu.stop()
    assert count == 1000
    assert len(emu.hits("/v5/market/kline")) == 10
    assert elapsed >= 0.8  # ten calls, at least 100 ms apart after the first


def test_a_refused_markets_load_is_retried(tmp_path: Path) -> None:
    """The markets load had no retry (found by review): one 503 from a busy venue ended the
    download; it is retried like every candle request."""
    venue = KlineVenue(Book({"BTC/USDT:USDT": Decimal(30000)}), candles=50)
    emu = EmulatorServer(venue).start()
    try:
        emu.fail_next("/v5/market/instruments-info", 1, status=503,
                      body={"retCode": 10006, "retMsg": "busy"})
        proc = _download(emu, tmp_path / "candles")
        out, err = proc.communicate(timeout=120)
        refused = emu.hits("/v5/market/instruments-info")
    finally:
        emu.stop()
    assert proc.returncode == 0, err
    assert "BTC/USDT:USDT: 50 new candles" in out
    assert len(refused) >= 2  # the refused one and its retry


class WeeklyVenue:
    """ccxt's side of a venue with weekly candles that open on Mondays (Bybit, Binance), up to
    the one still trading at `now_ms`."""

    MONDAY = 4 * 86_400_000  # 1970-01-05: the epoch (a Thursday) is not a week's start
    WEEK = 7 * 86_400_000

    def __init__(self, now_ms: int) -> None:
        self.now_ms = now_ms

    def parse_timeframe(self, timeframe: str) -> int:
        assert timeframe == "1w"
        return self.WEEK // 1000

    def fetch_ohlcv(self, symbol: str, timeframe: str, since: int, limit: int,
                    params: dict[str, Any]) -> list[list[Any]]:
        first = self.MONDAY + -(-(since - self.MONDAY) // self.WEEK) * self.WEEK
        opens = range(first, min(params["until"], self.now_ms) + 1, self.WEEK)
        return [[ts, 100, 101, 99, 100, 1] for ts in opens][:limit]


def test_only_closed_weekly_candles_are_written(tmp_path: Path) -> None:
    """Weekly candles open on Mondays, the epoch's weeks on Thursdays: on a Thursday the week
    that opened on Monday has not closed (found by review: it was written, with its prices so
    far, and a later run went on after it, so it was never completed)."""
    from backtest.download import download_symbol

    venue = WeeklyVenue(now_ms=1_700_092_800_000 + 12 * 3_600_000)  # Thursday 2023-11-16 12:00
    since = 1_698_624_000_000  # Monday 2023-10-30
    path, count = download_symbol(venue, "BTC/USDT:USDT", "1w", since, venue.now_ms, tmp_path,
                                  now_ms=lambda: venue.now_ms, sleep=lambda s: None)
    ts = [int(x.split(",")[0]) for x in path.read_text().splitlines()[1:]]
    assert ts == [since, since + WeeklyVenue.WEEK] and count == 2  # not Monday 2023-11-13's


class MinuteVenue:
    """ccxt's side of a venue with a 1-minute candle at every minute up to `now_ms`."""

    def __init__(self, now_ms: int) -> None:
        self.now_ms = now_ms

    def parse_timeframe(self, timeframe: str) -> int:
        assert timeframe == "1m"
        return 60

    def fetch_ohlcv(self, symbol: str, timeframe: str, since: int, limit: int,
                    params: dict[str, Any]) -> list[list[Any]]:
        first = -(-since // MINUTE) * MINUTE
        opens = range(first, min(params["until"], self.now_ms - MINUTE) + 1, MINUTE)
        return [[ts, 100, 101, 99, 100, 1] for ts in opens][:limit]


def test_a_from_after_the_files_end_is_refused_not_a_hole(tmp_path: Path) -> None:
    """The file holds 100 minutes; a second run with --from an hour after its end would append
    after a 60-minute hole (found by review: written silently; the backtest then refused the
    file for a gap). It is one line naming the file and where it ends; nothing is written."""
    from backtest.download import DownloadError, download_symbol

    venue = MinuteVenue(now_ms=START + 1_000 * MINUTE)
    path, _ = download_symbol(venue, "BTC/USDT:USDT", "1m", START, START + 100 * MINUTE,
                              tmp_path, now_ms=lambda: venue.now_ms, sleep=lambda s: None)
    before = path.read_bytes()
    with pytest.raises(DownloadError) as caught:
        download_symbol(venue, "BTC/USDT:USDT", "1m", START + 160 * MINUTE,
                        START + 300 * MINUTE, tmp_path, now_ms=lambda: venue.now_ms,
                        sleep=lambda s: None)
    assert str(caught.value) == (
        f"--from 2023-11-15 00:53: {path} ends at 2023-11-14 23:53; a later --from would leave "
        "a hole in it (use --from 2023-11-14 23:53 or earlier, or move the file away)")
    assert path.read_bytes() == before and not path.with_name(path.name + ".part").exists()


class UntilIgnoredVenue(MinuteVenue):
    """A venue that ignores ccxt's `until` (not every venue takes an end parameter): each page
    runs `limit` candles from `since`, past the window and past --to."""

    def fetch_ohlcv(self, symbol: str, timeframe: str, since: int, limit: int,
                    params: dict[str, Any]) -> list[list[Any]]:
        return super().fetch_ohlcv(symbol, timeframe, since, limit, {"until": self.now_ms})


def test_a_venue_answering_past_to_writes_nothing_at_or_after_to(tmp_path: Path) -> None:
    """--to is exclusive: with a venue that ignores `until`, the page answered for the last
    window holds the candle opening at --to and later ones; the file ends at the candle before
    --to (found by mutation audit: writing the candle at --to failed no test)."""
    from backtest.download import download_symbol

    venue = UntilIgnoredVenue(now_ms=START + 1_000 * MINUTE)
    path, written = download_symbol(venue, "BTC/USDT:USDT", "1m", START, START + 100 * MINUTE,
                                    tmp_path, limit=30, now_ms=lambda: venue.now_ms,
                                    sleep=lambda s: None)
    opens = [int(line.split(",")[0]) for line in path.read_text().splitlines()[1:]]
    assert written == 100
    assert opens == [START + i * MINUTE for i in range(100)]


class CountingVenue(MinuteVenue):
    """MinuteVenue as `run_download` reaches it (`exchange=`), counting the candle requests;
    past `max_calls` it fails the test instead of letting a download loop forever."""

    timeframes = {"1m": "1"}

    def __init__(self, now_ms: int, max_calls: int = 50) -> None:
        super().__init__(now_ms)
        self.calls = 0
        self.max_calls = max_calls

    def load_markets(self) -> dict[str, Any]:
        return {"BTC/USDT:USDT": {}}

    def fetch_ohlcv(self, symbol: str, timeframe: str, since: int, limit: int,
                    params: dict[str, Any]) -> list[list[Any]]:
        self.calls += 1
        assert self.calls <= self.max_calls, f"{self.calls} requests: the download loops"
        return super().fetch_ohlcv(symbol, timeframe, since, limit, params)


def _args(data: Path, *, start: str, to: str | None, limit: int = 1000) -> Any:
    import argparse

    return argparse.Namespace(exchange="bybit", symbols=["BTC/USDT:USDT"], timeframe="1m",
                              from_=start, to=to, data=str(data), api_url="", limit=limit)


@pytest.mark.parametrize("limit", [0, -5])
def test_a_limit_below_one_is_one_line_not_an_endless_loop(tmp_path: Path, limit: int) -> None:
    """Found by review: `--limit 0` asked for empty windows and moved on by 0 candles, forever
    (a negative limit went backwards). It is refused before any request."""
    from backtest.download import DownloadError, run_download

    venue = CountingVenue(now_ms=START + 1_000 * MINUTE)
    with pytest.raises(DownloadError) as caught:
        run_download(_args(tmp_path, start="2023-11-14T22:13", to="2023-11-15", limit=limit),
                     exchange=venue)
    assert str(caught.value) == f"--limit {limit}: expected at least 1 candle per request"
    assert venue.calls == 0 and not list(tmp_path.iterdir())


def test_a_from_not_before_to_is_one_line_and_writes_nothing(tmp_path: Path) -> None:
    """Found by review: `--from` after `--to` wrote a header-only file and said "0 new candles";
    the backtest then refused the file for having no candles."""
    from backtest.download import DownloadError, run_download

    venue = CountingVenue(now_ms=START + 1_000 * MINUTE)
    with pytest.raises(DownloadError) as caught:
        run_download(_args(tmp_path, start="2023-11-15", to="2023-11-14T22:13"), exchange=venue)
    assert str(caught.value) == ("--from 2023-11-15 00:00 is not before --to 2023-11-14 22:13: "
                                 "nothing to download")
    assert venue.calls == 0 and not list(tmp_path.iterdir())
    with pytest.raises(DownloadError) as caught:
        run_download(_args(tmp_path, start="2999-01-01", to=None), exchange=venue)
    assert str(caught.value).startswith("--from 2999-01-01 00:00 is not before now (")
    assert venue.calls == 0 and not list(tmp_path.iterdir())


def test_a_part_file_killed_before_its_header_gets_one(tmp_path: Path) -> None:
    """A kill between creating the part file and writing its header leaves it empty (found by
    review: the resumed download appended candles under no header, and the backtest refused
    the file at line 1). The resumed download writes the header first; the file backtests."""
    from backtest import candles as C
    from backtest.download import download_symbol

    (tmp_path / "BTC_USDT_USDT-1m.csv.part").write_bytes(b"")
    venue = MinuteVenue(now_ms=START + 1_000 * MINUTE)
    path, count = download_symbol(venue, "BTC/USDT:USDT", "1m", START, START + 100 * MINUTE,
                                  tmp_path, now_ms=lambda: venue.now_ms, sleep=lambda s: None)
    assert count == 100
    assert path.read_text().splitlines()[0] == "timestamp,open,high,low,close,volume"
    assert len(C.load(path)) == 100


def test_a_file_ending_in_blank_lines_or_a_bad_row_resumes_or_is_one_line(tmp_path: Path) -> None:
    """Found by review: resuming read the file's last line as a timestamp, so a file ending in
    a blank line (an edited one) raised ValueError, a traceback. Blank lines are passed over;
    a last row that is not a candle is one line naming the file and the line."""
    from backtest import candles as C
    from backtest.download import DownloadError, download_symbol

    venue = MinuteVenue(now_ms=START + 1_000 * MINUTE)

    def fetch(to: int) -> tuple[Path, int]:
        return download_symbol(venue, "BTC/USDT:USDT", "1m", START, START + to * MINUTE,
                               tmp_path, now_ms=lambda: venue.now_ms, sleep=lambda s: None)

    path, _ = fetch(10)
    path.write_text(path.read_text() + "\n\n")
    assert fetch(20) == (path, 10)
    assert C.load(path).ts == [START + i * MINUTE for i in range(20)]
    path.write_text(path.read_text() + "end of data\n")
    with pytest.raises(DownloadError) as caught:
        fetch(30)
    assert str(caught.value) == (f"{path}, line 24: no candle to resume after "
                                 "('end of data'); fix or move the file away")
