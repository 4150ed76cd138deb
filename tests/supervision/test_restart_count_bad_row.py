"""The status's `restarts` starts from each symbol's stored count (`actor_state.restarts`).
Found by review: one row whose count is no number (a hand edit; SQLite keeps text or a
fraction in an INTEGER column) failed the whole read, and every symbol's count started from 0
with one warning naming none. Now that row is its own symbol's alone: its count starts from 0,
with one line naming the symbol and the value, and every other symbol keeps its count. Real
supervisor, actors and SQLite file."""

from __future__ import annotations

import sqlite3

import pytest

from storage.repository import Repository
from supervision.status import build_status
from tests.support.harness import Harness

BTC, ETH, SOL = "BTC/USDT:USDT", "ETH/USDT:USDT", "SOL/USDT:USDT"


@pytest.mark.parametrize("bad", ["'seven'", "2.5", "9e999", "x'07'"])
def test_one_bad_stored_count_is_that_symbols_alone(tmp_path, lines, bad):
    repo = Repository(tmp_path / "bot.sqlite")
    for symbol, n in ((BTC, 2), (ETH, 3), (SOL, 1)):
        repo.claim(symbol)  # its actor_state row, as its actor's first start writes it
        for _ in range(n):
            repo.count_restart(symbol)
    repo.close()
    with sqlite3.connect(tmp_path / "bot.sqlite") as db:
        db.execute(f"UPDATE actor_state SET restarts = {bad} WHERE symbol = ?", (ETH,))
    db.close()
    h = Harness(tmp_path, [BTC, ETH, SOL])
    try:
        status = build_status(h.sup, {"pid": 1}, h.clock(), [])
        assert {a["symbol"]: a["restarts"] for a in status["actors"]} == {
            BTC: 2, ETH: 0, SOL: 1}
    finally:
        h.stop()
    said = [line for line in lines if "restart" in line and "WARNING" in line]
    assert len(said) == 1 and ETH in said[0] and "is not a count" in said[0], said
