"""Extending a finished candle file (`bot.py download` with a later --to)."""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Any

import pytest

from tests.backtest.test_download import MINUTE, START, MinuteVenue


class OfflineVenue(MinuteVenue):
    """A venue that cannot be reached (every candle request a network error)."""

    def fetch_ohlcv(self, symbol: str, timeframe: str, since: int, limit: int,
                    params: dict[str, Any]) -> list[list[Any]]:
        import ccxt

        raise ccxt.NetworkError("connection refused")


def test_a_failed_extension_leaves_the_finished_file_usable(tmp_path: Path) -> None:
    """Extending a finished file (a later --to) while the venue cannot be reached fails after its
    retries; the finished file is still there, as it was, and backtests (found by review: it had
    been renamed to the part file, which the backtest refuses as an interrupted download). The
    next run, with the venue back, extends it from where it ends."""
    from backtest import candles as C
    from backtest.download import DownloadError, download_symbol

    venue = MinuteVenue(now_ms=START + 1_000 * MINUTE)
    path, _ = download_symbol(venue, "BTC/USDT:USDT", "1m", START, START + 100 * MINUTE,
                              tmp_path, now_ms=lambda: venue.now_ms, sleep=lambda s: None)
    before = path.read_bytes()
    with pytest.raises(DownloadError, match="fetch_ohlcv failed 5 times"):
        download_symbol(OfflineVenue(venue.now_ms), "BTC/USDT:USDT", "1m", START,
                        START + 300 * MINUTE, tmp_path, now_ms=lambda: venue.now_ms,
                        sleep=lambda s: None)
    assert path.read_bytes() == before
    assert len(C.load(path)) == 100
    _, written = download_symbol(venue, "BTC/USDT:USDT", "1m", START, START + 300 * MINUTE,
                                 tmp_path, now_ms=lambda: venue.now_ms, sleep=lambda s: None)
    assert written == 200 and not path.with_name(path.name + ".part").exists()
    c = C.load(path)
    assert len(c) == 300 and not c.gaps and path.read_bytes().startswith(before)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
