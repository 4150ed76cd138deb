"""Issue 16 item 15: garbage JSON in one journal row quarantines that symbol with an error
naming the table and the row (like other unreadable rows), instead of crash-looping it."""

from __future__ import annotations

import sqlite3

import pykka
import pytest

from storage.repository import Repository
from storage.restore import CorruptRow, journal_data
from tests.support.harness import Harness
from trading.model import Side

BTC, ETH, SOL = "BTC/USDT:USDT", "ETH/USDT:USDT", "SOL/USDT:USDT"


@pytest.fixture(autouse=True)
def _stop_actors():
    yield
    pykka.ActorRegistry.stop_all()


def test_garbage_journal_row_quarantines_only_its_symbol(tmp_path):
    h = Harness(tmp_path, [BTC, ETH, SOL]).start()
    h.stop()
    # a signal that reached the journal but whose row was damaged since (disk, hand edit)
    repo = Repository(tmp_path / "bot.sqlite")
    repo.record(ETH, "SignalReceived", {"signal_id": "s1", "side": "long"}, correlation_id="s1")
    repo.close()
    con = sqlite3.connect(tmp_path / "bot.sqlite")
    row_id = con.execute("SELECT id FROM events WHERE correlation_id='s1'").fetchone()[0]
    con.execute("UPDATE events SET data='{\"signal_id\": \"s1\", garbage' WHERE id=?", (row_id,))
    con.commit()
    con.close()
    h2 = Harness(tmp_path, [BTC, ETH, SOL], clock=h.clock).start()
    try:
        assert h2.child(ETH).state.value == "quarantined"
        failure = h2.child(ETH).last_failure["error"]
        assert f"events row '{row_id}'" in failure and "field 'data'" in failure
        assert h2.child(ETH).restarts == 0  # not a crash loop
        assert h2.child(BTC).state.value == "running"
        h2.poll()
        assert h2.signal(SOL, Side.SHORT)  # the other symbols trade
        h2.idle(SOL)
        assert h2.exchange_position(SOL) is not None
    finally:
        h2.stop()


def test_journal_data_names_the_row():
    assert journal_data(7, '{"a": 1}') == {"a": 1}
    with pytest.raises(CorruptRow, match=r"events row '7': field 'data' .*not JSON"):
        journal_data(7, "{oops")
    with pytest.raises(CorruptRow, match="not a JSON object"):
        journal_data(8, "[1, 2]")
