"""Two symbols adopting an unknown exchange position on one account used to both get the
position id 'adopted-1' (numbered per symbol) while positions are keyed by the id alone: the
second commit took over the first symbol's row, so after a restart BTC's position was gone from
the books and ETH's was booked twice (found by review, demo on real SQLite)."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal as D
from pathlib import Path

from storage import queries
from storage.repository import Repository
from tests.trading.conftest import make_rules
from trading.decide import SymbolCore
from trading.events import ExchangePosition, Reconciled
from trading.model import Side

HELD = (("BTC/USDT:USDT", Side.LONG, D("0.5"), D("60000")),
        ("ETH/USDT:USDT", Side.SHORT, D("8"), D("3000")))


def test_positions_adopted_on_two_symbols_keep_their_own_rows(tmp_path: Path):
    repo = Repository(tmp_path / "bot.sqlite")
    try:
        for symbol, side, qty, price in HELD:
            core = SymbolCore(replace(make_rules(), symbol=symbol))
            incarnation = repo.claim(symbol)
            before = repo.load(symbol)
            found = ExchangePosition(side=side, contracts=qty, entry_price=price)
            d = core.decide(before, Reconciled(position=found, orders={}, price=price), 1000.0)
            repo.commit(symbol, incarnation, before, d, correlation_id="c", created_at=1000.0)
    finally:
        repo.close()
    repo = Repository(tmp_path / "bot.sqlite")
    try:
        for symbol, side, qty, _ in HELD:
            p = repo.load(symbol).position
            assert p is not None and (p.side, p.contracts) == (side, qty), symbol
        rows = repo.read(queries.open_positions_of, [s for s, *_ in HELD])
        assert len(rows) == 2
    finally:
        repo.close()
