"""A trailing-stop row is restored only onto the position it belongs to: its activation and
trigger come from that position's entry, so a row of an older position must never trail (or,
once flat, arm) a new one."""

from __future__ import annotations

import sqlite3
from decimal import Decimal

import pytest

from storage.repository import Repository
from storage.restore import CorruptRow
from tests.trading.conftest import make_rules
from tests.trading.scenario import Scenario
from trading.decide import SymbolCore
from trading.events import PriceTicked, SignalRaised
from trading.model import Side

SYM = "BTC/USDT:USDT"


@pytest.fixture
def opened(tmp_path):
    """A repository holding an open long with its trailing stop; the position's id."""
    repo = Repository(tmp_path / "bot.sqlite")
    inc = repo.claim(SYM)
    sc = Scenario(SymbolCore(make_rules()))
    for event in (PriceTicked(price=Decimal("100")), SignalRaised(side=Side.LONG)):
        before, start = sc.state, len(sc.decisions)
        sc.send(event)
        for d in sc.decisions[start:]:
            repo.commit(SYM, inc, before, d, correlation_id="c1", created_at=sc.now)
            before = d.state
    loaded = repo.load(SYM)
    assert loaded.position is not None and loaded.trailing is not None
    yield repo, tmp_path / "bot.sqlite", loaded.position.position_id
    repo.close()


def _sql(path, statement: str) -> None:
    with sqlite3.connect(path) as con:
        con.execute(statement)


def test_trailing_row_of_another_position_is_not_applied(opened):
    repo, path, position_id = opened
    _sql(path, "UPDATE trailing_stops SET position_id = 'older-position'")
    with pytest.raises(CorruptRow) as err:
        repo.load(SYM)
    text = str(err.value)
    assert text.startswith("trailing_stops row 'BTC/USDT:USDT': field 'position_id' = "
                           "'older-position'"), text
    assert repr(position_id) in text and "\n" not in text


def test_trailing_row_without_an_open_position_is_left_out(opened):
    repo, path, _ = opened
    _sql(path, "UPDATE positions SET status = 'closed'")
    state = repo.load(SYM)
    assert state.position is None and state.trailing is None
