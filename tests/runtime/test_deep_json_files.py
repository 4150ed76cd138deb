"""A hand-edited JSON file the bot reads (the status dump, the venue blocks, the markets cache)
nested deeper than the parser goes raised RecursionError: a traceback. Each is one line naming
the file now, and the bot goes on (the cache is refetched, the blocks file is not believed)."""

from __future__ import annotations

import sys

from exchange.ccxt import markets_cache
from exchange.venue_blocks import FILE, VenueBlocks
from runtime.status_cli import show_status

DEEP = "[" * (sys.getrecursionlimit() * 20) + "]" * (sys.getrecursionlimit() * 20)


def test_status_dump_nested_too_deep_is_one_line(tmp_path, capsys):
    (tmp_path / "status.json").write_text(DEEP)
    problem = show_status(tmp_path, as_json=False, account=None)
    assert problem is not None and "\n" not in problem
    assert problem.startswith(f"{tmp_path / 'status.json'}: cannot read the status")
    assert "nested too deep" in problem
    assert capsys.readouterr().out == ""


def test_venue_blocks_nested_too_deep_are_refused_with_one_line(tmp_path, lines):
    path = tmp_path / FILE
    path.write_text(DEEP)
    blocks = VenueBlocks(path, wall=lambda: 1000.0)
    assert blocks.remaining("binance", "fapi.binance.com") == 0.0
    assert blocks.remaining("binance", "fapi.binance.com") == 0.0
    said = [line for line in lines if str(path) in line]
    assert len(said) == 1 and "nested too deep" in said[0], lines
    blocks.note("binance", "fapi.binance.com", 60.0)  # the next block replaces the file
    assert blocks.remaining("binance", "fapi.binance.com") == 60.0


def test_markets_cache_nested_too_deep_is_ignored_and_refetched(tmp_path, lines):
    path = tmp_path / "markets.json"
    path.write_text(DEEP)
    got = markets_cache.load_or_fetch(path, "bybit", lambda: {"X": {"id": "x", "precision": {"amount": 1, "price": 1}}},
                                      max_age_s=3600, now_ms=lambda: 5_000)
    assert got == {"X": {"id": "x", "precision": {"amount": 1, "price": 1}}}
    assert markets_cache.read(path, "bybit") == (5_000, {"X": {"id": "x", "precision": {"amount": 1, "price": 1}}})
    assert any(str(path) in line and "nested too deep" in line for line in lines), lines


def test_markets_cache_of_another_shape_is_ignored(tmp_path):
    path = tmp_path / "markets.json"
    path.write_text("[1, 2]")
    assert markets_cache.read(path, "bybit") is None
    path.write_text('{"exchange": "bybit", "saved_at_ms": "soon", "markets": {}}')
    assert markets_cache.read(path, "bybit") is None
