"""Resuming a download is exact: never a complete candle lost, never half a line kept (found by
review: the cut meant for a part file's torn last line also cut a finished file's last candle
when the file merely lacked its final newline, in place, before anything was fetched).

A part file gets every line with its newline, so its last line without one is a torn write and
is cut; a finished file is never changed, and its copy that becomes the part gets the newline."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from backtest import candles as C
from backtest.download import DownloadError, download_symbol
from tests.backtest.test_download import MINUTE, START, MinuteVenue
from tests.backtest.test_download_extend import OfflineVenue

SYMBOL = "BTC/USDT:USDT"


class RecentVenue(MinuteVenue):
    """A venue keeping candles only from `first_ms` on (older history dropped)."""

    def __init__(self, now_ms: int, first_ms: int) -> None:
        super().__init__(now_ms)
        self.first_ms = first_ms

    def fetch_ohlcv(self, symbol: str, timeframe: str, since: int, limit: int,
                    params: dict[str, Any]) -> list[list[Any]]:
        rows = super().fetch_ohlcv(symbol, timeframe, since, limit, params)
        return [r for r in rows if r[0] >= self.first_ms]


def _fetch(venue: MinuteVenue, folder: Path, to: int) -> tuple[Path, int]:
    return download_symbol(venue, SYMBOL, "1m", START, START + to * MINUTE, folder,
                           now_ms=lambda: venue.now_ms, sleep=lambda s: None)


def _finished_without_final_newline(folder: Path) -> tuple[Path, bytes]:
    path, _ = _fetch(MinuteVenue(now_ms=START + 1_000 * MINUTE), folder, 100)
    data = path.read_bytes()
    assert data.endswith(b"\n")
    path.write_bytes(data[:-1])  # the same candles, the last line without its newline
    return path, data[:-1]


def test_a_failed_extension_leaves_a_finished_file_without_final_newline_as_it_was(
        tmp_path: Path) -> None:
    path, before = _finished_without_final_newline(tmp_path)
    with pytest.raises(DownloadError, match="fetch_ohlcv failed 5 times"):
        _fetch(OfflineVenue(START + 1_000 * MINUTE), tmp_path, 300)
    assert path.read_bytes() == before
    assert len(C.load(path)) == 100
    part = path.with_name(path.name + ".part")
    assert part.read_bytes() == before + b"\n"  # the extension's copy, with the newline


def test_extending_it_keeps_its_last_candle_when_the_venue_has_it_no_longer(
        tmp_path: Path) -> None:
    path, before = _finished_without_final_newline(tmp_path)
    venue = RecentVenue(now_ms=START + 1_000 * MINUTE, first_ms=START + 100 * MINUTE)
    assert _fetch(venue, tmp_path, 300) == (path, 200)
    data = path.read_bytes()
    assert data.startswith(before + b"\n") and data.endswith(b"\n")
    c = C.load(path)
    assert c.ts == [START + i * MINUTE for i in range(300)] and not c.gaps


def test_a_torn_last_line_of_a_part_file_is_cut_even_when_it_looks_whole(tmp_path: Path) -> None:
    """"…,100,1" may be the front of "…,100,12.5": a part's line without its newline is cut and
    fetched again, whatever it looks like."""
    venue = MinuteVenue(now_ms=START + 1_000 * MINUTE)
    (tmp_path / "clean").mkdir()
    clean, _ = _fetch(venue, tmp_path / "clean", 50)
    part = tmp_path / "x" / (clean.name + ".part")
    part.parent.mkdir()
    lines = clean.read_bytes().splitlines(keepends=True)
    part.write_bytes(b"".join(lines[:31]) + b"".join(lines[31:32]).rstrip(b"\n")[:-1] + b"9")
    assert _fetch(venue, tmp_path / "x", 50) == (tmp_path / "x" / clean.name, 20)
    assert (tmp_path / "x" / clean.name).read_bytes() == clean.read_bytes()


def test_a_finished_file_ending_in_half_a_row_is_one_line_and_not_changed(
        tmp_path: Path) -> None:
    path, _ = _fetch(MinuteVenue(now_ms=START + 1_000 * MINUTE), tmp_path, 10)
    before = path.read_bytes() + f"{START + 10 * MINUTE},100,10".encode()
    path.write_bytes(before)
    with pytest.raises(DownloadError) as caught:
        _fetch(MinuteVenue(now_ms=START + 1_000 * MINUTE), tmp_path, 20)
    assert str(caught.value) == (f"{path}, line 12: no candle to resume after "
                                 f"('{START + 10 * MINUTE},100,10'); fix or move the file away")
    assert path.read_bytes() == before
    assert not path.with_name(path.name + ".part").exists()


def test_a_link_planted_as_the_part_file_is_never_cut_or_written_through(
        tmp_path: Path) -> None:
    """Found by review: the part file was read, cut at its last newline and appended to
    through whatever it was: in a candle folder others may write (`--data /tmp/candles`), a
    symlink planted as `<file>.part` made the download cut the last line of the file it
    named, the user's own, and append candles to it. A part that is a link is refused in one
    line, the file it names untouched; the lock file is never opened through a link either."""
    victim = tmp_path / "notes.txt"
    victim.write_bytes(b"keep\nthis last line has no newline")
    shared = tmp_path / "shared"
    shared.mkdir()
    part = shared / "BTC_USDT_USDT-1m.csv.part"
    part.symlink_to(victim)
    with pytest.raises(DownloadError) as caught:
        _fetch(MinuteVenue(now_ms=START + 1_000 * MINUTE), shared, 10)
    assert str(caught.value).startswith(f"{part}: a link, not a part file of the download")
    assert victim.read_bytes() == b"keep\nthis last line has no newline"
    part.unlink()
    lock = shared / ".BTC_USDT_USDT-1m.csv.lock"
    lock.unlink()  # the refused download's own, a file
    lock.symlink_to(tmp_path / "made-through-the-lock")
    with pytest.raises(OSError):
        _fetch(MinuteVenue(now_ms=START + 1_000 * MINUTE), shared, 10)
    assert not (tmp_path / "made-through-the-lock").exists()
