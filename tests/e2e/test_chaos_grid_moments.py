"""The grid's kill moments (tests/e2e/chaos_grid.py) count only what the current process did
(tests/e2e/chaos_moments.py: "a state left over from an earlier kill never counts as reaching a
moment again"). A restart rewrites a symbol's grid_state document while an entry an earlier
process sent is still pending (its send grace): that entry is not this process's entry in
flight. A 30-kill live grid run (seed 13) credited the same entry to kills 17, 19 and 22.

Real parts: the bot's own SQLite schema (storage.repository.Repository) and its grid_state
upsert (storage/grid_store.py), read by the run's Probe."""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path

from storage.grid_store import UPSERT_GRID
from storage.repository import Repository
from tests.e2e.chaos_grid import GRID_MOMENTS
from tests.e2e.chaos_moments import Probe

SYM = "ETH/USDT:USDT"


def _order(cid: str, kind: str, created_at: float, cancel_at: float | None = None,
           status: str = "pending") -> dict:
    return {"client_order_id": cid, "leg": "long", "kind": kind, "side": "buy",
            "amount": "0.03", "price": None, "level": 0, "status": status,
            "exchange_id": None, "filled": "0", "average": None, "fee": "0",
            "created_at": created_at, "replaces": None, "cancel_requested_at": cancel_at,
            "last_error": None, "realized_pnl": "0", "position_id": None}


def _probe(tmp_path: Path, orders: list[dict], reopen: list[str], since: float) -> Probe:
    db = tmp_path / "bot.sqlite"
    Repository(db).close()
    con = sqlite3.connect(db)
    with con:  # the document rewritten by the new process, after its start
        con.execute(UPSERT_GRID, (SYM, json.dumps({"orders": orders, "reopen": reopen}),
                                  since + 1.0))
    con.close()
    return Probe(db=db, log=tmp_path / "bot.log", log_offset=0, since=since, actors=2, pid=1)


def test_an_entry_sent_by_an_earlier_process_is_not_this_process_in_flight(tmp_path):
    since = time.time()
    probe = _probe(tmp_path, [_order("main-x-ETH-91e", "entry", since - 20)], [], since)
    assert GRID_MOMENTS["leg_entry_in_flight"].inside(probe) is None


def test_an_entry_this_process_sent_is_in_flight(tmp_path):
    since = time.time()
    probe = _probe(tmp_path, [_order("main-x-ETH-92e", "entry", since + 0.5)], [], since)
    assert GRID_MOMENTS["leg_entry_in_flight"].inside(probe) == f"{SYM} main-x-ETH-92e"


def test_cancels_after_close_count_only_cancels_this_process_asked_for(tmp_path):
    since = time.time()
    old = _order("main-x-ETH-17t", "tp", since - 30, cancel_at=since - 10)
    probe = _probe(tmp_path, [old], ["long"], since)
    assert GRID_MOMENTS["cancels_after_close_in_flight"].inside(probe) is None
    new = _order("main-x-ETH-18t", "tp", since - 30, cancel_at=since + 0.5, status="open")
    probe = _probe(tmp_path, [old, new], ["long"], since)
    assert GRID_MOMENTS["cancels_after_close_in_flight"].inside(probe) == f"{SYM} main-x-ETH-18t"


def test_a_never_acknowledged_order_of_an_earlier_process_is_no_close_cancel_in_flight(tmp_path):
    """A level an earlier process committed and never got an answer for stays pending through
    its send grace (trading/order_evidence.py); once its leg is closed every restart asks its
    cancel again, so cancel_requested_at is always this process's. Paper grid run seed 4982
    (250 kills): 23 of its 40 'cancels_after_close_in_flight' kills named one of 10 orders two
    or three times each; grid-dc45-BTC-36a (a level that never reached the exchange) was
    kills 5, 7 and 8."""
    since = time.time()
    leftover = _order("main-x-ETH-36a", "add", since - 30, cancel_at=since + 0.5)
    probe = _probe(tmp_path, [leftover], ["long"], since)
    assert GRID_MOMENTS["cancels_after_close_in_flight"].inside(probe) is None
    mine = _order("main-x-ETH-40a", "add", since + 0.2, cancel_at=since + 0.5)
    probe = _probe(tmp_path, [leftover, mine], ["long"], since)
    assert GRID_MOMENTS["cancels_after_close_in_flight"].inside(probe) == f"{SYM} main-x-ETH-40a"
