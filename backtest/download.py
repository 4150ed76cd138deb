"""`bot.py download`: closed candles through ccxt `fetch_ohlcv` into `<data>/<SYMBOL>-<tf>.csv`.

- Pagination: one request per `limit` candles, each asking for [since, since + limit * tf)
  (`until`), so venues that answer the newest candles of a window page forward correctly; a
  window whose answer starts after `since` is asked again for its front (a venue's maximum
  page below `limit` would otherwise leave it out).
  A window with no candles (a venue outage, a symbol listed after `--from`) is skipped, not
  taken for the end: the download goes on with the next window until the range is done.
- Rate limit: ccxt's own throttle (`enableRateLimit`) spaces the calls at the venue's
  `rateLimit`; a network error or exchange hiccup is retried with exponential backoff.
- Resumable: pages are appended to `<file>.part` (0600) and fsynced one by one; a restart
  drops a torn last line (one without its newline) and continues after the last complete
  candle. A finished file is never cut: its last line is complete with or without a newline.
  When the range is done the part file is renamed onto the final name (atomic). Running it
  again with a later `--to` extends the file from where it ends, in a copy of it as the part
  file (the finished file stays usable until the extension is done; a `--from` after its end
  is refused: a hole).
- Only closed candles are written (timestamp + timeframe <= now, by the earlier of this
  machine's clock and the venue's).
"""

from __future__ import annotations

import argparse
import math
import os
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import ccxt

from backtest.candles import HEADER, VALUE, fmt_ms
from backtest.files import copy_private, held_alone, remove_leftovers, write_private
from observability.log_format import say

MAX_RETRIES = 5
MAX_RATE_WAIT_S = 600.0
"""The longest `Retry-After` a download waits out (Bybit's IP ban: 10 minutes)."""


NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
"""The download's own files (part, lock) are never opened through a link (see _open_part)."""


class DownloadError(Exception):
    """A problem the user must fix; the message is the one line they see."""


def _resume_point(path: Path, *, finished: bool) -> tuple[int | None, bool]:
    """(the last complete candle's timestamp in `path`, None: none; whether the file's last
    line lacks its newline). A part file gets every line with its newline, fsynced page by page,
    so a last line without one is a write a kill cut short: it is cut from the part. A finished
    file (`finished`: the final name, renamed from a complete part or put there by the user) is
    never changed: its last line is a candle with or without a newline (found by review: the
    torn-line cut also cut a finished file's last candle when the file merely lacked a final
    newline, in place, before the extension had fetched anything). The last line must be a
    whole candle row: anything else is one line naming it."""
    data = path.read_bytes()
    end = data.rfind(b"\n") + 1
    if end < len(data) and not finished:
        with open(os.open(path, os.O_RDWR | NOFOLLOW), "r+b") as handle:  # never via a link
            handle.truncate(end)
            os.fsync(handle.fileno())
        data = data[:end]
    lines = data.split(b"\n")
    if lines and not lines[-1]:  # the newline that ends the last line
        lines.pop()
    unterminated = not data.endswith(b"\n") and bool(data)
    while lines and not lines[-1].strip():  # blank lines at the end (an edited file)
        lines.pop()
    if len(lines) <= 1:
        return None, unterminated
    fields = lines[-1].rstrip(b"\r").split(b",")
    if len(fields) != len(HEADER) or not fields[0].isdigit():
        raise DownloadError(f"{path}, line {len(lines)}: no candle to resume after "
                            f"({lines[-1][:60].decode(errors='replace')!r}); fix or move the "
                            "file away")
    return int(fields[0]), unterminated


def _open_part(final: Path, since_ms: int, tf: int) -> tuple[Path, int | None]:
    """The part file to append to and its last complete candle (None: a new file). A `since_ms`
    after the existing file's end is refused, before anything moves: the file would hold a
    hole (found by review: appended silently; the backtest then refused the file for a gap)."""
    part = final.with_name(final.name + ".part")
    remove_leftovers(final.parent, [part.name])  # a copy below a killed download left them
    if part.is_symlink():  # found by review: in a folder others may write, a link planted
        # here had the file it named, the user's own, cut at its last newline and appended to
        raise DownloadError(f"{part}: a link, not a part file of the download; remove it (the "
                            "download writes its own)")
    existing = part if part.exists() else final if final.exists() else None
    last, unterminated = (None, False) if existing is None else _resume_point(
        existing, finished=existing == final)
    if last is not None and since_ms > last + tf:
        raise DownloadError(f"--from {fmt_ms(since_ms)}: {existing} ends at {fmt_ms(last + tf)}; "
                            f"a later --from would leave a hole in it (use --from "
                            f"{fmt_ms(last + tf)} or earlier, or move the file away)")
    if existing == final and unterminated:  # the copy gets the last line's newline, in the
        write_private(part, final.read_bytes() + b"\n")  # same atomic write: a part's line
        # without one would be cut as torn, and a page appended to it would join its line
    elif existing == final:  # extend a finished file: a copy becomes the part; the file stays
        copy_private(final, part)  # until the part replaces it (found by review: it was
        # renamed, so an extension that failed, offline or on a bad answer, left only the part,
        # which the backtest refuses as an interrupted download: the finished data was unusable)
    if existing is None or part.stat().st_size == 0:  # a kill before the header: write it
        fd = os.open(part, os.O_WRONLY | os.O_CREAT | NOFOLLOW | (
            os.O_EXCL if existing is None else 0), 0o600)
        try:
            os.write(fd, (",".join(HEADER) + "\n").encode())
            os.fsync(fd)
        finally:
            os.close(fd)
    return part, last


T = TypeVar("T")


def _retried(call: Callable[[], T], what: str, sleep: Callable[[float], None],
             ex: Any = None) -> T:
    """`call` with up to MAX_RETRIES tries on a network error or an unavailable venue (1 s
    doubling to 30 s between them), then one line naming `what`. A "too many requests" answer
    waits the `Retry-After` its venue named (`ex`'s last answer), when longer (found by review:
    a 429 with `Retry-After: 7` was asked again after 1 s, four more times within 15 s: the
    "failing to back off" Binance answers with IP bans); a wait beyond MAX_RATE_WAIT_S is one
    line."""
    delay = 1.0
    for attempt in range(MAX_RETRIES):
        try:
            return call()
        except (ccxt.NetworkError, ccxt.ExchangeNotAvailable) as exc:
            if attempt == MAX_RETRIES - 1:
                raise DownloadError(f"{what} failed {MAX_RETRIES} times: {exc}") from exc
            limited = isinstance(exc, ccxt.RateLimitExceeded | ccxt.DDoSProtection)
            asked = _retry_after(ex) if limited else None
            if asked is not None and asked > MAX_RATE_WAIT_S:
                raise DownloadError(f"{what}: the venue asks to wait {asked:g} s before the "
                                    "next request (rate limit); run again later") from exc
            sleep(max(delay, asked or 0.0))
            delay = min(delay * 2, 30.0)
    raise AssertionError("unreachable")


def _retry_after(ex: Any) -> float | None:
    """The seconds the `Retry-After` header of `ex`'s last answer names; None when there is no
    such header or it is not a finite number of seconds."""
    headers = getattr(ex, "last_response_headers", None) or {}
    value = next((v for k, v in dict(headers).items() if str(k).lower() == "retry-after"), None)
    try:
        seconds = float(str(value)) if value is not None else math.nan
    except ValueError:
        return None
    return seconds if math.isfinite(seconds) and seconds > 0 else None


def _fetch(ex: Any, symbol: str, timeframe: str, since: int, limit: int, until: int,
           sleep: Callable[[float], None]) -> list[list[Any]]:
    rows: list[list[Any]] = _retried(
        lambda: ex.fetch_ohlcv(symbol, timeframe, since=since, limit=limit,
                               params={"until": until}), f"{symbol}: fetch_ohlcv", sleep, ex)
    timeless = next((r for r in rows if not r or r[0] is None), None)
    if timeless is not None:  # found by review: compared with the window, a TypeError traceback
        raise DownloadError(f"{symbol}: the venue answered a candle without a timestamp "
                            f"({', '.join(map(str, timeless))}) for the window from "
                            f"{fmt_ms(since)}; the file keeps the candles before it (run again "
                            "to retry)")
    return rows


def _window(ex: Any, symbol: str, timeframe: str, since: int, limit: int, until: int, end: int,
            sleep: Callable[[float], None]) -> list[list[Any]]:
    """The candles of the window from `since` (ms; `until` its last ms), none at or after `end`.
    A venue whose answer holds fewer candles than `limit` (its own maximum: ccxt clamps OKX's to
    300) and that answers the newest ones of the window leaves the window's front out: the
    front is asked for again until an answer starts at `since` or has none before the
    candles found (an outage, a symbol listed later) (found by review: 700 of every 1,000
    candles were skipped)."""
    rows = [r for r in _fetch(ex, symbol, timeframe, since, limit, until, sleep)
            if since <= r[0] < end]
    while rows and rows[0][0] > since:
        first = rows[0][0]
        front = [r for r in _fetch(ex, symbol, timeframe, since, limit, first - 1, sleep)
                 if since <= r[0] < first]
        if not front:
            break
        rows = front + rows
    return _in_order(symbol, rows)


def _in_order(symbol: str, rows: list[list[Any]]) -> list[list[Any]]:
    """The window's candles in time order, each once (found by review: a candle the venue
    answered twice was written twice, and the backtest then refused the file for a duplicate
    timestamp). The same candle twice with different values is refused in one line: which one
    is right cannot be told."""
    out: list[list[Any]] = []
    for row in sorted(rows, key=lambda r: r[0]):
        if out and out[-1][0] == row[0]:
            if list(out[-1][:6]) != list(row[:6]):
                raise DownloadError(
                    f"{symbol}: the venue answered the candle at {fmt_ms(int(row[0]))} twice "
                    f"with different values ({', '.join(map(str, out[-1][:6]))} and "
                    f"{', '.join(map(str, row[:6]))}); the file keeps the candles before its "
                    "page (run again to retry)")
            continue
        out.append(row)
    return out


def download_symbol(ex: Any, symbol: str, timeframe: str, since_ms: int, to_ms: int,
                    folder: Path, *, limit: int = 1000, now_ms: Callable[[], int] | None = None,
                    sleep: Callable[[float], None] = time.sleep) -> tuple[Path, int]:
    """Fetch [since_ms, to_ms) of closed candles; returns (file, candles written now)."""
    from backtest.cli import file_name

    tf = ex.parse_timeframe(timeframe) * 1000
    now = now_ms() if now_ms is not None else _now(ex, sleep)
    end = min(to_ms, now - tf + 1)  # candles that have closed: open + tf <= now (a weekly
    # candle opens on a Monday, not on the epoch's Thursdays: `now - now % tf` let one through)
    final = folder / file_name(symbol, timeframe)
    with _exclusive(final):
        return _download(ex, symbol, timeframe, since_ms, end, final, tf, limit, sleep)


def _now(ex: Any, sleep: Callable[[float], None]) -> int:
    """Now (ms) for "has this candle closed": the earlier of this machine's clock and the
    venue's (`fetch_time`, where ccxt has it). Found by review: with the local clock only, a
    machine running a few seconds fast (a VM, WSL, no NTP) took the venue's candle still
    trading for closed, wrote it with its prices so far, and a later run went on after it, so
    it was never completed."""
    local = int(time.time() * 1000)
    if not (getattr(ex, "has", None) or {}).get("fetchTime"):
        return local
    try:
        venue = _retried(ex.fetch_time, f"{getattr(ex, 'id', 'venue')}: fetch_time", sleep, ex)
    except (ccxt.ExchangeError, ccxt.NotSupported):  # a venue without a usable clock call
        return local
    return min(local, int(venue)) if venue else local


@contextmanager
def _exclusive(final: Path) -> Iterator[None]:
    """One download per file at a time (found by review: a second one, in another terminal,
    cut the first one's page in flight as a torn line and interleaved its own pages with it).
    The lock is on `.<file>.lock`."""
    busy = DownloadError(f"{final}: another download is writing it; wait for it to end (or "
                         "stop it), then run this one again")
    with held_alone(final.with_name(f".{final.name}.lock"), os.O_RDWR | os.O_CREAT | NOFOLLOW,
                    busy):
        yield


def _download(ex: Any, symbol: str, timeframe: str, since_ms: int, end: int, final: Path,
              tf: int, limit: int, sleep: Callable[[float], None]) -> tuple[Path, int]:
    part, last = _open_part(final, since_ms, tf)
    since = since_ms if last is None else max(since_ms, last + tf)
    written = 0
    with open(os.open(part, os.O_WRONLY | os.O_APPEND | NOFOLLOW), "a", newline="") as out:
        while since < end:
            rows = _window(ex, symbol, timeframe, since, limit,
                           min(since + limit * tf, end) - 1, end, sleep)
            if not rows:  # none in this window (a venue outage, a symbol listed later than
                since += limit * tf  # --from): the next window, up to the end of the range
                continue
            bad = next(((r, why) for r in rows if (why := _unusable(r))), None)
            if bad is not None:  # found by review: written as "None" or "nan", the file then
                row, why = bad  # refused by the backtest; nothing of this page is written
                raise DownloadError(
                    f"{symbol}: the venue answered the candle at {fmt_ms(int(row[0]))} with "
                    f"{why} ({', '.join(map(str, row))}); the file keeps the candles "
                    "before it (run again to retry)")
            out.write("".join(f"{int(r[0])},{r[1]},{r[2]},{r[3]},{r[4]},{r[5]}\n" for r in rows))
            out.flush()
            os.fsync(out.fileno())  # a kill loses at most the page in flight
            written += len(rows)
            since = int(rows[-1][0]) + tf
    os.replace(part, final)
    return final, written


def _unusable(row: list[Any]) -> str | None:
    """What makes a venue's candle row one the backtest would refuse (backtest/candles.py), or
    None: a value left out (ccxt gives None), one that is not a finite number (ccxt reads a
    venue's "NaN" or "inf" as a float), one whose text is not a plain number (`VALUE`: a value
    ccxt left as a string with spaces or "_", a bool), a price not above 0, a negative
    volume."""
    if len(row) < 6 or any(v is None for v in row[:6]):
        return "a missing value"
    try:
        values = [float(v) for v in row[1:6]]
    except (TypeError, ValueError):
        return "a value that is not a number"
    if not all(math.isfinite(v) for v in values):
        return "a value that is not a finite number"
    if not all(VALUE.fullmatch(str(v)) for v in row[1:6]):  # as it would be written: " 100",
        return "a value that is not a plain number"  # "1_000", True, which the reader refuses
    if min(values[:4]) <= 0:
        return "a price that is not positive"
    return "a negative volume" if values[4] < 0 else None


def run_download(args: argparse.Namespace, exchange: Any = None) -> int:
    from backtest.cli import parse_when
    from backtest.files import private_dir

    if args.limit < 1:  # a window of 0 candles never moves on: the download would loop
        raise DownloadError(f"--limit {args.limit}: expected at least 1 candle per request")
    if args.timeframe[-1:] in ("M", "y", "Y"):  # found by review (see the message)
        unit, days = ("month", 30) if args.timeframe.endswith("M") else ("year", 365)
        raise DownloadError(f"--timeframe {args.timeframe}: a {unit} is not one length (ccxt "
                            f"counts {days} days: a candle would be written before it closed, "
                            "the next one skipped), and the backtest replays candles of one "
                            "length; use 1w or shorter")
    if args.exchange not in ccxt.exchanges:
        raise DownloadError(f"--exchange: unknown ccxt exchange id {args.exchange!r}")
    if args.api_url and not re.fullmatch(r"https?://[^/\s@]+", args.api_url):  # as the config's
        raise DownloadError("--api-url: expected http(s)://host[:port] (no path, no user name "
                            "or password)")
    data = Path(args.data).expanduser()  # `--data=~/candles`: no shell expands that ~
    if data.exists() and not data.is_dir():
        raise DownloadError(f"--data {args.data}: not a folder")
    ex = exchange or _exchange(args.exchange, args.api_url)
    if not ex.timeframes:  # found by review: "--timeframe 1m: X offers " and nothing
        raise DownloadError(f"--exchange {args.exchange}: ccxt offers no candles "
                            "(fetch_ohlcv) for it")
    if args.timeframe not in ex.timeframes:
        raise DownloadError(f"--timeframe {args.timeframe}: {args.exchange} offers "
                            f"{', '.join(ex.timeframes or {})}")
    start = parse_when(args.from_, "--from")
    end = parse_when(args.to, "--to") or int(time.time() * 1000)
    assert start is not None
    if start >= end:
        until = f"--to {fmt_ms(end)}" if args.to else f"now ({fmt_ms(end)})"
        raise DownloadError(f"--from {fmt_ms(start)} is not before {until}: nothing to download")
    markets = _retried(ex.load_markets, f"{args.exchange}: load_markets", time.sleep, ex)
    for symbol in args.symbols:
        if symbol not in markets:
            raise DownloadError(f"--symbols: {symbol!r} is not a market on {args.exchange}")
    folder = private_dir(data)  # after the checks: a refused download leaves no empty folder
    for symbol in args.symbols:
        note = _later_start(folder, symbol, args.timeframe, start, ex.parse_timeframe(
            args.timeframe) * 1000)
        path, count = download_symbol(ex, symbol, args.timeframe, start, end, folder,
                                      limit=args.limit)
        print(f"{symbol}: {count} new candles -> {path}")
        note = note or _late_history(path, args.exchange, args.timeframe, start,
                                     ex.parse_timeframe(args.timeframe) * 1000)
        if note:
            say(f"bot.py: note: {note}")
    return 0


def _later_start(folder: Path, symbol: str, timeframe: str, since_ms: int, tf: int) -> str | None:
    """A line when the file to extend starts a candle or more after `--from`: the download only
    extends a file forward (found by review: `0 new candles`, exit 0, and nothing said about
    the range before the file, which the user had asked for)."""
    from backtest.cli import file_name

    final = folder / file_name(symbol, timeframe)
    part = final.with_name(final.name + ".part")
    existing = part if part.exists() else final if final.exists() else None
    if existing is None:
        return None
    first = _first_candle(existing)
    if first is None or first - since_ms < tf:
        return None
    return (f"{existing} starts at {fmt_ms(first)}, after --from {fmt_ms(since_ms)}: "
            "candles before it are not fetched (a download only extends its file forward; "
            "move the file away to fetch from --from)")


def _first_candle(path: Path) -> int | None:
    """The timestamp of the file's first candle (None: none)."""
    with path.open("rb") as handle:
        handle.readline()
        first = handle.readline().split(b",", 1)[0]
    return int(first) if first.strip().isdigit() else None


def _late_history(path: Path, exchange: str, timeframe: str, since_ms: int,
                  tf: int) -> str | None:
    """A line when the file, downloaded from `--from`, starts a candle or more after it: the
    venue had no candles before (found by review: a venue keeping a few months of 1m candles
    answered a year's --from with the last months, `N new candles`, exit 0, not a word of
    the rest; the backtest's own note came later, if the user looked)."""
    first = _first_candle(path)
    if first is None or first - since_ms < tf:
        return None
    return (f"{path} starts at {fmt_ms(first)}, after --from {fmt_ms(since_ms)}: {exchange} "
            f"answered no {timeframe} candles before it (a symbol listed later, or the venue "
            "keeps no older history of this timeframe)")


def _exchange(exchange_id: str, api_url: str) -> Any:
    from exchange.ccxt.factory import point_api_at

    ex = getattr(ccxt, exchange_id)({"enableRateLimit": True, "timeout": 30_000})
    return point_api_at(ex, api_url) if api_url else ex
